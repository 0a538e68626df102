// CodeMirror 6 bound to an open file's Y.Text: shared edits, remote cursors labelled by name,
// undo of one's own edits only, and read-only for viewers (switched live with the role).
import { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, indentWithTab } from "@codemirror/commands";
import { bracketMatching, indentOnInput } from "@codemirror/language";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { Compartment, EditorState, type Extension } from "@codemirror/state";
import {
  drawSelection,
  dropCursor,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  keymap,
  lineNumbers,
  rectangularSelection,
} from "@codemirror/view";
import { useEffect, useRef, useState } from "preact/hooks";
import { yCollab, yUndoManagerKeymap } from "y-codemirror.next";
import type { OpenDocument } from "./document";
import "./editor.css";
import { languageFor } from "./languages";
import { darkTheme } from "./theme";

function editable(readOnly: boolean): Extension {
  return [EditorState.readOnly.of(readOnly), EditorView.editable.of(!readOnly)];
}

export function Editor({ doc, readOnly }: { doc: OpenDocument; readOnly: boolean }) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const access = useRef(new Compartment());
  const readOnlyNow = useRef(readOnly);
  readOnlyNow.current = readOnly;
  const [, rerender] = useState(0);
  useEffect(() => doc.subscribe(() => rerender((n) => n + 1)), [doc]);

  // One view per document and provider (a rename rebinds); built once the server's content
  // is in, so nobody types into an empty editor that then fills up around them.
  useEffect(() => {
    if (!doc.loaded || !host.current) return;
    const created = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: doc.text.toString(),
        extensions: [
          keymap.of([...yUndoManagerKeymap, ...closeBracketsKeymap, ...defaultKeymap, ...searchKeymap, indentWithTab]),
          lineNumbers(),
          highlightActiveLineGutter(),
          highlightSpecialChars(),
          drawSelection(),
          dropCursor(),
          EditorState.allowMultipleSelections.of(true),
          indentOnInput(),
          bracketMatching(),
          closeBrackets(),
          rectangularSelection(),
          highlightActiveLine(),
          highlightSelectionMatches(),
          languageFor(doc.path),
          darkTheme,
          yCollab(doc.text, doc.provider.awareness, { undoManager: doc.undoManager }),
          access.current.of(editable(readOnlyNow.current)),
        ],
      }),
    });
    view.current = created;
    if (!readOnlyNow.current) created.focus();
    return () => {
      created.destroy();
      view.current = null;
    };
  }, [doc, doc.generation, doc.loaded]);

  useEffect(() => {
    const current = view.current;
    if (!current) return;
    current.dispatch({ effects: access.current.reconfigure(editable(readOnly)) });
    // Became writable while nothing else has the focus (the role arrived after the content).
    if (!readOnly && document.activeElement === document.body) current.focus();
  }, [readOnly]);

  return (
    <div class="editor-frame" data-testid="editor" data-path={doc.path}>
      {!doc.loaded && (
        <div class="editor-loading" data-testid="editor-loading">
          Opening {doc.path}…
        </div>
      )}
      {/* CodeMirror owns this node's children: nothing else renders into it. */}
      <div class="editor-host" ref={host} />
    </div>
  );
}
