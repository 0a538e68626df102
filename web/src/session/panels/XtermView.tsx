// One shared terminal drawn by xterm.js: output is written as it comes (`attach` hands over
// what arrived before this view existed), keys go to the server as `terminal:input` (editors
// and owners; viewers get a read-only terminal), and the size follows the panel.
import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import { useEffect, useRef } from "preact/hooks";
import type { Socket } from "socket.io-client";
import { call, pieces, type TerminalInfo } from "./terminals";

export type Writer = (data: string) => void;

interface Props {
  socket: Socket;
  info: TerminalInfo;
  visible: boolean;
  readOnly: boolean;
  // Registers this view's writer (and gets what arrived before it); null when it goes.
  attach: (terminalId: string, writer: Writer | null) => void;
  // The shell's size as the server last announced it (viewers follow it).
  size: { cols: number; rows: number };
  onError: (message: string) => void;
}

const THEME = { background: "#14161b", foreground: "#e3e6eb", cursor: "#4f8cff", selectionBackground: "#2c3d5a" };

export function XtermView({ socket, info, visible, readOnly, attach, size, onError }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const term = useRef<Terminal | null>(null);
  const fit = useRef<FitAddon | null>(null);
  const id = info.terminal_id;

  useEffect(() => {
    const t = new Terminal({
      disableStdin: readOnly,
      cursorBlink: !readOnly,
      fontSize: 13,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
      scrollback: 2000,
      cols: info.cols,
      rows: info.rows,
      theme: THEME,
    });
    const f = new FitAddon();
    t.loadAddon(f);
    t.open(box.current!);
    term.current = t;
    fit.current = f;
    attach(id, (data) => t.write(data));
    const typed = t.onData((data) => {
      for (const piece of pieces(data)) {
        void call(socket, "terminal:input", { terminal_id: id, data: piece }).then((ack) => {
          if (!ack.ok && ack.error.code !== "not_found") onError(ack.error.message);
        });
      }
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const resized = t.onResize(({ cols, rows }) => {
      if (readOnly) return;
      clearTimeout(timer);
      timer = setTimeout(() => void call(socket, "terminal:resize", { terminal_id: id, cols, rows }), 150);
    });
    return () => {
      clearTimeout(timer);
      typed.dispose();
      resized.dispose();
      attach(id, null);
      t.dispose();
      term.current = null;
    };
    // One xterm per terminal for the view's whole life.
  }, [id]);

  // Editors size the shell to their panel; viewers draw it at the shell's own size.
  useEffect(() => {
    if (readOnly || !visible || !box.current) return;
    const refit = () => {
      if (box.current && box.current.offsetWidth > 0) fit.current?.fit();
    };
    refit();
    const observer = new ResizeObserver(refit);
    observer.observe(box.current);
    return () => observer.disconnect();
  }, [readOnly, visible]);

  useEffect(() => {
    if (readOnly) term.current?.resize(size.cols, size.rows);
  }, [readOnly, size.cols, size.rows]);

  useEffect(() => {
    if (visible && !readOnly) term.current?.focus();
  }, [visible, readOnly]);

  return (
    <div
      ref={box}
      class={`term-screen${visible ? "" : " term-hidden"}`}
      data-testid="terminal"
      data-terminal-id={id}
      data-read-only={readOnly ? "true" : "false"}
    />
  );
}
