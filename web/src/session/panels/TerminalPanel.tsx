// The shared terminal under the editor: one shell per terminal in a running deployment,
// watched by everyone in the session. Editors and owners open one ("Terminal", for the
// newest running deployment), type, and close it; viewers see the same screen read-only.
// Terminals already open are listed on join (`terminal:list`), new ones arrive as
// `terminal:opened`, and `terminal:closed` removes one with why.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { Deployment, SessionContext } from "../context";
import { Alert } from "./Alert";
import { call, closedReason, type ClosedEvent, type OutputEvent, type ResizedEvent, type TerminalInfo } from "./terminals";
import { useSocketEvent } from "./useSocketEvent";
import { XtermView, type Writer } from "./XtermView";
import "./terminal.css";

// Output kept for a terminal whose view is not drawn yet (at most this many characters).
const PENDING_LIMIT = 256 * 1024;

interface StatusEvent {
  deployment_id: string;
  status: string;
}

export function TerminalPanel({ ctx }: { ctx: SessionContext }) {
  const mayType = ctx.role === "owner" || ctx.role === "editor";
  const [running, setRunning] = useState<string[]>(() => runningOf(ctx.join.deployments));
  const [terminals, setTerminals] = useState<TerminalInfo[]>([]);
  const [active, setActive] = useState<string | null>(null);
  const [opening, setOpening] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const writers = useRef(new Map<string, Writer>());
  const pending = useRef(new Map<string, string>());

  useEffect(() => setRunning(runningOf(ctx.join.deployments)), [ctx.join]);

  const add = useCallback((info: TerminalInfo) => {
    setTerminals((list) => (list.some((t) => t.terminal_id === info.terminal_id) ? list : [...list, info]));
    setActive((current) => current ?? info.terminal_id);
  }, []);

  // What is already open in this session (on every (re)join).
  useEffect(() => {
    void call<{ terminals: TerminalInfo[] }>(ctx.socket, "terminal:list", { session_id: ctx.sessionId }).then((ack) => {
      if (ack.ok) ack.terminals.forEach(add);
    });
  }, [ctx.socket, ctx.sessionId, ctx.join, add]);

  useSocketEvent<StatusEvent>(ctx.socket, "deployment:status", (e) => {
    setRunning((ids) => {
      const others = ids.filter((id) => id !== e.deployment_id);
      return e.status === "running" ? [...others, e.deployment_id] : others;
    });
  });
  useSocketEvent<TerminalInfo>(ctx.socket, "terminal:opened", (info) => {
    if (info.session_id === ctx.sessionId) add(info);
  });
  useSocketEvent<OutputEvent>(ctx.socket, "terminal:output", (e) => {
    const writer = writers.current.get(e.terminal_id);
    if (writer) writer(e.data);
    else pending.current.set(e.terminal_id, ((pending.current.get(e.terminal_id) ?? "") + e.data).slice(-PENDING_LIMIT));
  });
  useSocketEvent<ResizedEvent>(ctx.socket, "terminal:resized", (e) => {
    setTerminals((list) => list.map((t) => (t.terminal_id === e.terminal_id ? { ...t, cols: e.cols, rows: e.rows } : t)));
  });
  useSocketEvent<ClosedEvent>(ctx.socket, "terminal:closed", (e) => {
    pending.current.delete(e.terminal_id);
    setNote(closedReason(e.reason));
    const rest = terminals.filter((t) => t.terminal_id !== e.terminal_id);
    setTerminals((list) => list.filter((t) => t.terminal_id !== e.terminal_id));
    setActive((current) => (current === e.terminal_id ? (rest[rest.length - 1]?.terminal_id ?? null) : current));
  });

  const attach = useCallback((terminalId: string, writer: Writer | null) => {
    if (writer === null) {
      writers.current.delete(terminalId);
      return;
    }
    writers.current.set(terminalId, writer);
    const early = pending.current.get(terminalId);
    pending.current.delete(terminalId);
    if (early) writer(early);
  }, []);

  const target = running[running.length - 1] ?? null;

  const open = async () => {
    if (!target) return;
    setOpening(true);
    setError(null);
    setNote(null);
    const ack = await call<{ terminal_id: string }>(ctx.socket, "terminal:open", { deployment_id: target });
    setOpening(false);
    if (ack.ok) setActive(ack.terminal_id);
    else setError(ack.error.message);
  };

  const close = async (terminalId: string) => {
    const ack = await call(ctx.socket, "terminal:close", { terminal_id: terminalId });
    if (!ack.ok) setError(ack.error.message);
  };

  if (!target && terminals.length === 0 && !note) return null;
  const shown = terminals.find((t) => t.terminal_id === active) ?? terminals[terminals.length - 1] ?? null;

  return (
    <section class="term-panel" data-testid="terminal-panel" aria-label="Terminal">
      <header class="term-bar">
        <span class="term-title">Terminal</span>
        <div class="term-tabs" role="tablist" aria-label="Terminals">
          {terminals.map((t, i) => (
            <span key={t.terminal_id} class={`term-tab${t === shown ? " term-tab-on" : ""}`}>
              <button type="button" role="tab" aria-selected={t === shown} class="term-tab-name"
                data-testid={`terminal-tab-${t.terminal_id}`} onClick={() => setActive(t.terminal_id)}>
                sh #{i + 1}
              </button>
              {mayType && (
                <button type="button" class="term-tab-close" aria-label={`Close terminal ${i + 1}`}
                  data-testid="close-terminal" onClick={() => void close(t.terminal_id)}>
                  ×
                </button>
              )}
            </span>
          ))}
        </div>
        <span class="term-spacer" />
        {!mayType && terminals.length > 0 && <span class="term-muted" data-testid="terminal-read-only">Read-only</span>}
        {mayType && target && (
          <button type="button" class="term-open" data-testid="open-terminal" disabled={opening} onClick={() => void open()}>
            {opening ? "Opening…" : "+ Terminal"}
          </button>
        )}
      </header>
      {error && <Alert message={error} testid="terminal-error" onClose={() => setError(null)} />}
      {note && terminals.length === 0 && (
        <p class="term-note" data-testid="terminal-note">
          {note}
          <button type="button" class="term-tab-close" aria-label="Dismiss" onClick={() => setNote(null)}>
            ×
          </button>
        </p>
      )}
      {terminals.length === 0 && !note && (
        <p class="term-note">
          {mayType ? "Open a shell inside the running deployment: everyone here sees it." : "No terminal is open."}
        </p>
      )}
      {terminals.map((t) => (
        <XtermView key={t.terminal_id} socket={ctx.socket} info={t} visible={t === shown} readOnly={!mayType}
          attach={attach} size={{ cols: t.cols, rows: t.rows }} onError={setError} />
      ))}
    </section>
  );
}

function runningOf(deployments: Deployment[]): string[] {
  return deployments.filter((d) => d.status === "running").map((d) => d.deployment_id);
}
