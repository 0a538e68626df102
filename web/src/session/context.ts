// What the session page shares with its panels. The page (session/SessionPage.tsx) opens
// the `/` Socket.IO connection, joins the session and hands this to every panel; panels
// subscribe to the socket's events themselves and unsubscribe when they unmount.
import type { Socket } from "socket.io-client";
import type { User } from "../auth";

export type Role = "owner" | "editor" | "viewer";

// Shapes as the server sends them (see collab/realtime/presence.py and ../shared/API.md);
// extra fields are kept as they come.
export interface Participant {
  participant_id: string;
  user: { user_id: string; username: string; first_name?: string | null; last_name?: string | null; [k: string]: unknown };
  role: Role;
  is_active?: boolean;
  [key: string]: unknown;
}

export interface Deployment {
  deployment_id: string;
  status: string;
  deployment_url?: string | null;
  [key: string]: unknown;
}

export interface JoinAck {
  ok: true;
  role: Role;
  participants: Participant[];
  files: { path: string; [key: string]: unknown }[];
  deployments: Deployment[];
}

export interface Session {
  session_id: string;
  name: string;
  language: string;
  [key: string]: unknown;
}

export interface SessionContext {
  sessionId: string;
  session: Session;
  socket: Socket; // the `/` namespace, joined
  role: Role; // live: the page re-renders panels when a participant:updated changes it
  me: User;
  join: JoinAck;
}
