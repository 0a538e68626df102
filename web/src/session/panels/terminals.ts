// The shared terminal's events (collab/realtime/terminal.py, docs/deployments-terminal.md)
// and the small helpers the terminal panel uses.
import type { Socket } from "socket.io-client";

export interface TerminalInfo {
  terminal_id: string;
  deployment_id: string;
  session_id: string;
  opened_by: string;
  cols: number;
  rows: number;
}

export interface OutputEvent {
  terminal_id: string;
  data: string;
}

export interface ClosedEvent {
  terminal_id: string;
  deployment_id: string;
  reason: string;
}

export interface ResizedEvent {
  terminal_id: string;
  cols: number;
  rows: number;
}

export type Ack<T> = ({ ok: true } & T) | { ok: false; error: { code: string; message: string } };

// An event with an acknowledgement; a server that does not answer in time is an error.
export async function call<T>(socket: Socket, event: string, body: unknown): Promise<Ack<T>> {
  try {
    return (await socket.timeout(10000).emitWithAck(event, body)) as Ack<T>;
  } catch {
    return { ok: false, error: { code: "timeout", message: "The server did not answer: try again." } };
  }
}

// The server takes at most 4 KiB a message: a paste goes in pieces of at most 1000 code
// points (4 bytes each at most), never splitting a character.
export function pieces(data: string): string[] {
  const points = Array.from(data);
  const out: string[] = [];
  for (let i = 0; i < points.length; i += 1000) out.push(points.slice(i, i + 1000).join(""));
  return out;
}

// Why a terminal ended, in words.
export function closedReason(reason: string): string {
  switch (reason) {
    case "closed":
      return "The terminal was closed.";
    case "exited":
      return "The shell exited.";
    case "deployment stopped":
      return "The terminal closed: its deployment stopped.";
    case "idle":
      return "The terminal closed after a long time without input.";
    case "server stopping":
      return "The terminal closed: the server restarted.";
    default:
      return `The terminal closed (${reason}).`;
  }
}
