// The editor's dark theme and its syntax colours (no theme package: a few rules suffice).
import { HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import type { Extension } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { tags as t } from "@lezer/highlight";

const base = EditorView.theme(
  {
    "&": { color: "#d4d7dd", backgroundColor: "#1e2127", height: "100%", fontSize: "14px" },
    ".cm-scroller": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace", lineHeight: "1.5" },
    ".cm-content": { caretColor: "#f0f0f0", padding: "8px 0" },
    ".cm-cursor, .cm-dropCursor": { borderLeftColor: "#f0f0f0" },
    "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection": {
      backgroundColor: "#3a4454",
    },
    ".cm-activeLine": { backgroundColor: "#262a31" },
    ".cm-activeLineGutter": { backgroundColor: "#262a31", color: "#c0c4cc" },
    ".cm-gutters": { backgroundColor: "#1e2127", color: "#5c6370", border: "none" },
    ".cm-matchingBracket": { backgroundColor: "#3b4048", outline: "1px solid #5c6370" },
    ".cm-searchMatch": { backgroundColor: "#5a4a1f" },
    ".cm-panels": { backgroundColor: "#21252b", color: "#d4d7dd" },
    ".cm-tooltip": { backgroundColor: "#21252b", border: "1px solid #3b4048" },
  },
  { dark: true },
);

const colours = HighlightStyle.define([
  { tag: [t.keyword, t.operatorKeyword, t.modifier, t.controlKeyword], color: "#c678dd" },
  { tag: [t.string, t.special(t.string), t.regexp], color: "#98c379" },
  { tag: [t.number, t.bool, t.null, t.atom], color: "#d19a66" },
  { tag: [t.comment, t.lineComment, t.blockComment], color: "#7f848e", fontStyle: "italic" },
  { tag: [t.function(t.variableName), t.function(t.propertyName)], color: "#61afef" },
  { tag: [t.definition(t.variableName), t.className, t.typeName], color: "#e5c07b" },
  { tag: [t.propertyName, t.attributeName], color: "#e06c75" },
  { tag: [t.tagName, t.heading], color: "#e06c75", fontWeight: "bold" },
  { tag: [t.operator, t.punctuation], color: "#abb2bf" },
  { tag: t.link, color: "#61afef", textDecoration: "underline" },
  { tag: t.emphasis, fontStyle: "italic" },
  { tag: t.strong, fontWeight: "bold" },
  { tag: t.invalid, color: "#ff6b6b" },
]);

export const darkTheme: Extension = [base, syntaxHighlighting(colours)];
