// The session page's live state: the `/` socket and the join, the role, the file list, the
// open tabs (one OpenDocument each), notices and the connection state. Components read it and
// call its methods; it tells them to re-render through `subscribe`.
import { io, type Socket } from "socket.io-client";
import { api, ApiError } from "../api";
import { refreshNow, type User } from "../auth";
import { OpenDocument, socketAuth } from "../editor/document";
import type { JoinAck, Participant, Role, Session } from "./context";
import { checkPath, fileUrl } from "./paths";

export type Connection = "connected" | "reconnecting" | "offline";

export interface FileEntry {
  path: string;
  size?: number;
  updated_at?: string;
  pending?: boolean; // created here, not stored yet: a file exists once it has content
}

export interface Notice {
  id: number;
  text: string;
  tone: "info" | "error";
}

export type Phase =
  | { kind: "loading" }
  | { kind: "ready" }
  | { kind: "refused"; message: string } // never got in
  | { kind: "removed" } // was in, no longer allowed
  | { kind: "logged-out"; message: string };

type JoinAnswer = JoinAck | { ok: false; error: { code: string; message: string } };

const NOTICE_MS = 8000;

export class SessionRuntime {
  phase: Phase = { kind: "loading" };
  session: Session | null = null;
  join: JoinAck | null = null;
  role: Role = "viewer";
  files: FileEntry[] = [];
  tabs: string[] = [];
  active: string | null = null;
  notices: Notice[] = [];
  readonly docs = new Map<string, OpenDocument>();
  readonly socket: Socket;
  private readonly listeners = new Set<() => void>();
  private noticeId = 0;
  private authRetries = 0;
  private stopped = false;
  private opened = false; // the first file was picked
  // Paths this person is renaming or deleting: the server's event may come before its answer,
  // and nobody needs to be told what they just did.
  private readonly ownChanges = new Set<string>();

  constructor(
    readonly sessionId: string,
    private readonly initialFile: string | null,
    readonly me: User,
  ) {
    this.socket = io("/", { auth: socketAuth, autoConnect: false, reconnectionDelayMax: 5000 });
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed = (): void => {
    if (!this.stopped) for (const listener of this.listeners) listener();
  };

  get connection(): Connection {
    if (!navigator.onLine) return "offline";
    const docsUp = [...this.docs.values()].every((d) => d.status === "connected");
    return this.socket.connected && docsUp ? "connected" : "reconnecting";
  }

  // -- lifecycle -------------------------------------------------------------------------

  start(): void {
    const s = this.socket;
    s.on("connect", this.onConnect);
    s.on("disconnect", this.onDisconnect);
    s.on("connect_error", this.onConnectError);
    s.on("participant:updated", this.onParticipantUpdated);
    s.on("participant:left", this.onParticipantLeft);
    s.on("session:updated", this.onSessionUpdated);
    s.on("file:created", this.onFileCreated);
    s.on("file:deleted", this.onFileDeleted);
    s.on("file:renamed", this.onFileRenamed);
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    if (navigator.onLine) s.connect();
    // The file asked for opens at once, in parallel with the join: its socket checks
    // membership on its own, and this is what someone opening a link waits for.
    if (this.initialFile) {
      const checked = checkPath(this.initialFile);
      if ("path" in checked) this.openFile(checked.path);
    }
    api<Session>("GET", `/api/sessions/${encodeURIComponent(this.sessionId)}`).then(
      (session) => {
        this.session = session;
        // The session's answer carries my role too: whichever comes first unlocks the editor.
        const role = (session as { role?: unknown }).role;
        if (!this.join && (role === "owner" || role === "editor" || role === "viewer")) this.role = role;
        this.becomeReady();
      },
      (error: unknown) => this.refuse(error instanceof ApiError ? error.message : "The session could not be loaded."),
    );
  }

  stop(): void {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    for (const doc of this.docs.values()) doc.destroy();
    this.docs.clear();
    this.socket.removeAllListeners();
    this.socket.disconnect();
  }

  private becomeReady(): void {
    if (this.phase.kind !== "loading" || !this.session || !this.join) return;
    this.phase = { kind: "ready" };
    if (!this.opened) {
      this.opened = true;
      if (!this.initialFile && this.files.length > 0) this.openFile(this.files[0].path);
    }
    this.changed();
  }

  private refuse(message: string): void {
    if (this.phase.kind !== "loading") return;
    this.phase = { kind: "refused", message };
    this.shutDown();
  }

  private lostAccess(message: string): void {
    if (this.phase.kind === "loading") this.refuse(message);
    else this.removed();
  }

  private removed(): void {
    if (this.phase.kind === "removed" || this.phase.kind === "refused") return;
    this.phase = { kind: "removed" };
    this.shutDown();
  }

  private shutDown(): void {
    for (const doc of this.docs.values()) doc.destroy();
    this.docs.clear();
    this.tabs = [];
    this.active = null;
    this.socket.disconnect();
    this.changed();
  }

  // -- the `/` socket --------------------------------------------------------------------

  private onConnect = (): void => {
    this.authRetries = 0;
    // Every (re)connection is a new socket to the server: join again.
    this.socket.emit("session:join", { session_id: this.sessionId }, (answer: JoinAnswer) => {
      if (answer.ok) this.acceptJoin(answer);
      else this.lostAccess(answer.error.message);
    });
    this.changed();
  };

  private acceptJoin(answer: JoinAck): void {
    this.join = answer;
    this.role = answer.role;
    // Still unwritten: files created here, and open tabs (a `?file=` that does not exist yet).
    const stored = new Set(answer.files.map((f) => f.path));
    const pending = [...new Set([...this.files.filter((f) => f.pending).map((f) => f.path), ...this.tabs])]
      .filter((path) => !stored.has(path))
      .map((path) => ({ path, pending: true }));
    this.files = sortFiles([...answer.files, ...pending]);
    if (this.phase.kind === "loading") this.becomeReady();
    else this.changed();
  }

  private onDisconnect = (reason: Socket.DisconnectReason): void => {
    this.changed();
    // The server dropped us (e.g. every login of this user was revoked): try once with a
    // fresh token; connect_error tells us if the login is gone.
    if (reason === "io server disconnect" && !this.stopped && navigator.onLine) {
      void refreshNow().then(() => this.socket.connect());
    }
  };

  private onConnectError = (error: Error): void => {
    this.changed();
    if (this.socket.active) return; // network trouble: socket.io keeps retrying
    if (error.message === "unauthorized" && this.authRetries < 2) {
      this.authRetries += 1;
      void refreshNow().then((ok) => (ok ? this.socket.connect() : this.loggedOut()));
      return;
    }
    if (error.message === "unauthorized") this.loggedOut();
  };

  private loggedOut(): void {
    this.phase = { kind: "logged-out", message: "Your login has ended. Log in again to continue." };
    this.shutDown();
  }

  private isMe(userId: unknown): boolean {
    return String(userId) === this.me.user_id;
  }

  private onParticipantUpdated = (p: Participant): void => {
    if (!p?.user || !this.isMe(p.user.user_id) || p.role === this.role) return;
    this.role = p.role;
    this.notify(p.role === "viewer" ? "You are now a viewer: the editor is read-only." : `You are now an ${p.role}: you can edit.`);
  };

  private onParticipantLeft = (p: { user_id?: string }): void => {
    if (this.isMe(p?.user_id)) this.removed();
  };

  private onSessionUpdated = (s: Partial<Session>): void => {
    if (!this.session || !s) return;
    const { role: _role, ...rest } = s as Partial<Session> & { role?: unknown };
    this.session = { ...this.session, ...rest };
    this.changed();
  };

  private onOnline = (): void => {
    this.socket.connect();
    for (const doc of this.docs.values()) doc.resume();
    this.changed();
  };

  private onOffline = (): void => {
    // Close at once rather than wait for timeouts: edits stay in each Y.Doc and merge when
    // the connections come back.
    this.socket.disconnect();
    for (const doc of this.docs.values()) doc.pause();
    this.changed();
  };

  // -- files and their events -----------------------------------------------------------

  private onFileCreated = ({ path }: { path: string }): void => {
    if (typeof path !== "string") return;
    this.files = sortFiles([...this.files.filter((f) => f.path !== path), { path }]);
    this.changed();
  };

  private onFileDeleted = ({ path }: { path: string }): void => {
    if (typeof path === "string") this.forgetFile(path, !this.ownChanges.has(path));
  };

  private onFileRenamed = (data: { from: string; to: string }): void => {
    if (typeof data?.from === "string" && typeof data?.to === "string") this.moveFile(data.from, data.to, !this.ownChanges.has(data.from));
  };

  private forgetFile(path: string, announce: boolean): void {
    const known = this.files.some((f) => f.path === path) || this.docs.has(path);
    this.files = this.files.filter((f) => f.path !== path);
    if (this.docs.has(path)) {
      this.closeTab(path);
      if (announce) this.notify(`${path} was deleted.`);
    }
    if (known) this.changed();
  }

  private moveFile(from: string, to: string, announce: boolean): void {
    const entry = this.files.find((f) => f.path === from);
    if (!entry && !this.docs.has(from)) return; // already applied (our own rename)
    this.files = sortFiles([...this.files.filter((f) => f.path !== from && f.path !== to), { ...(entry ?? {}), path: to }]);
    const doc = this.docs.get(from);
    if (doc) {
      if (this.docs.has(to)) this.closeTab(to);
      this.docs.delete(from);
      this.docs.set(to, doc);
      this.tabs = this.tabs.map((t) => (t === from ? to : t));
      if (this.active === from) this.active = to;
      doc.rename(to);
      if (announce) this.notify(`${from} was renamed to ${to}.`);
      this.syncUrl();
    }
    this.changed();
  }

  // Create: a new file is a new document; it exists once it has content (the server stores
  // it on the first edit and announces `file:created`).
  createFile(raw: string): string | null {
    const checked = checkPath(raw);
    if ("error" in checked) return checked.error;
    const { path } = checked;
    if (!this.files.some((f) => f.path === path)) {
      this.files = sortFiles([...this.files, { path, pending: true }]);
    }
    this.openFile(path);
    return null;
  }

  async renameFile(from: string, raw: string): Promise<void> {
    const checked = checkPath(raw);
    if ("error" in checked) throw new ApiError(422, "validation_failed", checked.error);
    const to = checked.path;
    if (to === from) return;
    if (this.files.some((f) => f.path === to)) throw new ApiError(409, "conflict", `${to} already exists.`);
    const entry = this.files.find((f) => f.path === from);
    if (!entry?.pending) {
      this.ownChanges.add(from);
      try {
        const answer = await api<{ path: string }>("PATCH", fileUrl(this.sessionId, from), { body: { path: to } });
        this.moveFile(from, answer.path, false);
      } finally {
        this.ownChanges.delete(from);
      }
    } else {
      this.moveFile(from, to, false);
      const moved = this.files.find((f) => f.path === to);
      if (moved) moved.pending = true;
    }
  }

  async deleteFile(path: string): Promise<void> {
    const entry = this.files.find((f) => f.path === path);
    if (!entry?.pending) {
      this.ownChanges.add(path);
      try {
        await api("DELETE", fileUrl(this.sessionId, path));
      } finally {
        this.ownChanges.delete(path);
      }
    }
    this.forgetFile(path, false);
  }

  // -- tabs ------------------------------------------------------------------------------

  openFile(path: string): void {
    if (!this.docs.has(path)) {
      const doc = new OpenDocument(this.sessionId, path, this.me, {
        serverClosed: (d) => this.serverClosed(d),
        refused: (d, reason) => this.docRefused(d, reason),
        changed: this.changed,
      }, !navigator.onLine);
      this.docs.set(path, doc);
      this.tabs = [...this.tabs, path];
    }
    this.active = path;
    this.syncUrl();
    this.changed();
  }

  activate(path: string): void {
    if (!this.docs.has(path)) return;
    this.active = path;
    this.syncUrl();
    this.changed();
  }

  closeTab(path: string): void {
    const doc = this.docs.get(path);
    if (!doc) return;
    doc.destroy();
    this.docs.delete(path);
    const index = this.tabs.indexOf(path);
    this.tabs = this.tabs.filter((t) => t !== path);
    if (this.active === path) this.active = this.tabs[Math.min(index, this.tabs.length - 1)] ?? null;
    // A file created here and never written does not exist: nothing to list.
    this.files = this.files.filter((f) => !(f.path === path && f.pending));
    this.syncUrl();
    this.changed();
  }

  private syncUrl(): void {
    if (this.stopped) return;
    const base = `/sessions/${encodeURIComponent(this.sessionId)}`;
    // Slashes stay readable: `?file=src/app.py` parses the same as `?file=src%2Fapp.py`.
    const url = this.active ? `${base}?file=${encodeURIComponent(this.active).replace(/%2F/g, "/")}` : base;
    if (window.location.pathname + window.location.search !== url) window.history.replaceState(window.history.state, "", url);
  }

  // The server closed a file's connection: a rename or delete is on its way as an event, or
  // our access ended. Wait for the event; then ask the server whether we are still in.
  private serverClosed(doc: OpenDocument): void {
    const generation = doc.generation;
    setTimeout(() => {
      if (doc.isDestroyed || doc.generation !== generation || this.stopped) return;
      this.recheck(() => doc.reconnect());
    }, 1000);
  }

  private docRefused(doc: OpenDocument, reason: string): void {
    if (reason === "not_found") {
      this.closeTab(doc.path);
      this.notify(`${doc.path} is not a valid file path.`, "error");
    } else if (reason === "unauthorized") {
      this.loggedOut();
    } else {
      // Still a member, yet refused: say so rather than retry in a loop.
      this.recheck(() => {
        doc.error = { code: reason, message: "The server refused to open this file." };
        this.changed();
      });
    }
  }

  private recheck(stillIn: () => void): void {
    if (!this.socket.connected) {
      stillIn(); // cannot ask now; the rejoin on reconnect will tell
      return;
    }
    this.socket.emit("session:join", { session_id: this.sessionId }, (answer: JoinAnswer) => {
      if (!answer.ok) this.lostAccess(answer.error.message);
      else {
        this.acceptJoin(answer);
        stillIn();
      }
    });
  }

  // -- notices ---------------------------------------------------------------------------

  notify(text: string, tone: Notice["tone"] = "info"): void {
    const notice = { id: ++this.noticeId, text, tone };
    this.notices = [...this.notices, notice];
    setTimeout(() => this.dismiss(notice.id), NOTICE_MS);
    this.changed();
  }

  dismiss(id: number): void {
    this.notices = this.notices.filter((n) => n.id !== id);
    this.changed();
  }
}

function sortFiles(files: FileEntry[]): FileEntry[] {
  return [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
