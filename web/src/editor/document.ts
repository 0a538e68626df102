// One open file: its Y.Doc, the y-socket.io provider that syncs it with the server, and the
// undo manager that undoes only this person's edits. Lives while the file's tab is open; a
// rename keeps the Y.Doc (and its undo history) and moves it to a provider on the new name.
import { SocketIOProvider } from "y-socket.io";
import { encodeAwarenessUpdate } from "y-protocols/awareness";
import * as Y from "yjs";
import { freshAccessToken, refreshNow, type User } from "../auth";
import { colourOf, safeColour } from "./colors";

export type DocStatus = "connecting" | "connected" | "disconnected";

// How long an answer to the server's ask may go unrefused before its edits count as stored
// (a refusal comes back within milliseconds; collab/realtime/resync.py).
const REFUSAL_CLEARS_AFTER_MS = 3000;

export interface SyncError {
  code: string;
  message: string;
}

export interface DocumentHooks {
  // The server closed this file's connection: it was renamed or deleted, or our access ended.
  serverClosed(doc: OpenDocument): void;
  // The server refused the connection ("forbidden", "not_found", "unauthorized").
  refused(doc: OpenDocument, reason: string): void;
  // Status, content or error changed (the page re-renders its connection state).
  changed(): void;
}

// The handshake's auth as a function: every (re)connect presents a token that is valid now.
export function socketAuth(cb: (data: object) => void): void {
  void freshAccessToken().then((token) => cb({ token: token ?? "" }));
}

export class OpenDocument {
  readonly doc = new Y.Doc();
  readonly text: Y.Text = this.doc.getText("content");
  readonly undoManager = new Y.UndoManager(this.text);
  provider!: SocketIOProvider;
  status: DocStatus = "connecting";
  loaded = false; // the server's content has been applied at least once
  error: SyncError | null = null;
  generation = 0; // bumps when the provider is replaced: editors bind to the new one
  private readonly listeners = new Set<() => void>();
  private authRetries = 0;
  private destroyed = false;
  private paused = false;

  constructor(
    private readonly sessionId: string,
    public path: string,
    private readonly me: User,
    private readonly hooks: DocumentHooks,
    offline = false,
  ) {
    this.paused = offline;
    this.open();
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
    this.hooks.changed();
  }

  private open(): void {
    const provider = new SocketIOProvider(
      window.location.origin,
      `${this.sessionId}/${this.path}`,
      this.doc,
      { autoConnect: false, disableBc: true }, // the server is the one source of truth
      { auth: socketAuth, reconnectionDelayMax: 5000 },
    );
    this.provider = provider;
    const { awareness } = provider;
    // y-socket.io sends every awareness change, other people's included, as if it were ours;
    // the server refuses states under client ids that are not ours. Send only our own.
    const relay = (provider as unknown as { awarenessUpdate: (...args: unknown[]) => void }).awarenessUpdate;
    awareness.off("update", relay);
    awareness.on(
      "update",
      ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
        const id = this.doc.clientID;
        if (origin === provider || ![...added, ...updated, ...removed].includes(id)) return;
        provider.socket.emit("awareness-update", encodeAwarenessUpdate(awareness, [id]));
      },
    );
    awareness.setLocalStateField("user", { name: this.me.username, ...colourOf(this.me.user_id) });
    // Registered before any editor binds, so CodeMirror only ever sees sanitised colours.
    awareness.on("change", () => {
      awareness.getStates().forEach((state, clientId) => {
        const user = state.user as Record<string, unknown> | undefined;
        if (clientId === this.doc.clientID || !user || typeof user !== "object") return;
        const fallback = colourOf(String(user.id ?? clientId));
        user.color = safeColour(user.color, fallback.color);
        user.colorLight = safeColour(user.colorLight, fallback.colorLight);
      });
    });
    const socket = provider.socket;
    // Edits made while disconnected queue up in socket.io's send buffer, a message per
    // keystroke; the reconnect's sync exchange carries them all in one diff, so the queue is
    // dropped (a long offline stretch would otherwise burst past the server's rate limit).
    socket.io.on("open", () => {
      socket.sendBuffer = [];
    });
    socket.on("connect", () => {
      if (provider !== this.provider) return;
      this.status = "connected";
      this.authRetries = 0;
      if (!this.loaded) {
        // The provider marks itself synced when the server asks for our diff, which can come
        // before the server's content arrives: ask for the content ourselves to know.
        socket.emit("sync-step-1", Y.encodeStateVector(this.doc), (update: ArrayBuffer) => {
          Y.applyUpdate(this.doc, new Uint8Array(update), provider);
          this.loaded = true;
          this.notify();
        });
      }
      this.notify();
    });
    socket.on("disconnect", (reason) => {
      if (provider !== this.provider || this.destroyed) return;
      this.status = "disconnected";
      this.notify();
      if (reason === "io server disconnect") this.hooks.serverClosed(this);
    });
    socket.on("connect_error", (err) => {
      if (provider !== this.provider || this.destroyed) return;
      this.status = "disconnected";
      this.notify();
      if (socket.active) return; // a network failure: socket.io retries by itself
      if (err.message === "unauthorized" && this.authRetries < 2) {
        this.authRetries += 1;
        void refreshNow().then((ok) => (ok ? this.reconnect() : this.hooks.refused(this, "unauthorized")));
        return;
      }
      this.hooks.refused(this, err.message);
    });
    socket.on("sync-error", (error: SyncError) => {
      this.error = { code: String(error?.code ?? "error"), message: String(error?.message ?? "The edit was refused.") };
      this.notify();
    });
    // After an edit storage refused (or one over the socket's budget), the server asks for
    // our diff again once storage answers (a second later); the provider answers it. If that
    // answer is not refused in turn, the edits are stored: the notice no longer holds.
    socket.on("sync-step-1", () => {
      const shown = this.error;
      if (shown?.code !== "unavailable" && shown?.code !== "rate_limited") return;
      setTimeout(() => {
        if (this.error !== shown || this.destroyed) return;
        this.error = null;
        this.notify();
      }, REFUSAL_CLEARS_AFTER_MS);
    });
    if (!this.paused) provider.connect();
  }

  private closeProvider(): void {
    const provider = this.provider;
    provider.destroy();
    provider.socket.disconnect(); // destroy() leaves a socket that is retrying alone
    provider.socket.removeAllListeners();
  }

  // The file now has another name: same document, a connection on the new name.
  rename(path: string): void {
    if (this.destroyed || path === this.path) return;
    this.closeProvider();
    this.path = path;
    this.status = "connecting";
    this.generation += 1;
    this.open();
    this.notify();
  }

  reconnect(): void {
    if (!this.destroyed && !this.paused) this.provider.connect();
  }

  // Offline: close the connection at once (edits stay in the Y.Doc) and resume when back.
  pause(): void {
    this.paused = true;
    this.provider.socket.disconnect();
  }

  resume(): void {
    this.paused = false;
    this.reconnect();
  }

  clearError(): void {
    this.error = null;
    this.notify();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.closeProvider();
    this.undoManager.destroy();
    this.doc.destroy();
    this.listeners.clear();
  }
}
