// The session page: joins the session over the `/` socket, then lays out the file tree
// (left), the tabs and the editor (centre) and the panels (right). The live state lives in
// SessionRuntime; this file only renders it.
import { useEffect, useMemo, useState } from "preact/hooks";
import { restore, user, type User } from "../auth";
import { Editor } from "../editor/Editor";
import { ConnectionBadge } from "./ConnectionBadge";
import type { SessionContext } from "./context";
import { FileTree } from "./FileTree";
import { Notices } from "./Notices";
import { DeploymentsPanel } from "./panels/DeploymentsPanel";
import { InvitePanel } from "./panels/InvitePanel";
import { ParticipantsPanel } from "./panels/ParticipantsPanel";
import { TerminalPanel } from "./panels/TerminalPanel";
import { SessionRuntime } from "./runtime";
import "./session.css";
import { Tabs } from "./Tabs";

export function SessionPage({ sessionId, file }: { sessionId: string; file: string | null }) {
  const [me, setMe] = useState<User | null | undefined>(() => user() ?? undefined);
  useEffect(() => {
    if (me === undefined) void restore().then((u) => setMe(u));
  }, [me]);
  if (me === undefined) return <div class="session-message" data-testid="session-loading">Loading…</div>;
  if (me === null) {
    return (
      <Message title="Log in to open this session.">
        <a href={`/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}`}>Log in</a>
      </Message>
    );
  }
  return <LiveSession key={`${sessionId}:${me.user_id}`} sessionId={sessionId} file={file} me={me} />;
}

function LiveSession({ sessionId, file, me }: { sessionId: string; file: string | null; me: User }) {
  const runtime = useMemo(() => new SessionRuntime(sessionId, file, me), [sessionId, me]);
  const [, rerender] = useState(0);
  useEffect(() => {
    const unsubscribe = runtime.subscribe(() => rerender((n) => n + 1));
    runtime.start();
    return () => {
      unsubscribe();
      runtime.stop();
    };
  }, [runtime]);

  // A link to another file of this session (same page, new `?file=`) opens it in a tab.
  useEffect(() => {
    if (file && file !== runtime.active && runtime.phase.kind !== "loading") runtime.createFile(file);
  }, [file, runtime]);

  const { phase, session, join, role } = runtime;
  const ctx = useMemo<SessionContext | null>(
    () => (session && join ? { sessionId, session, socket: runtime.socket, role, me, join } : null),
    [session, join, role, runtime, sessionId, me],
  );

  if (phase.kind === "refused") {
    return (
      <Message title={phase.message} testId="session-error">
        <p>You are not a participant of this session. If someone shared a join link with you, open that link.</p>
        <a href="/">Back to your sessions</a>
      </Message>
    );
  }
  if (phase.kind === "removed") {
    return (
      <Message title="You were removed from this session" testId="removed">
        <a href="/">Back to your sessions</a>
      </Message>
    );
  }
  if (phase.kind === "logged-out") {
    return (
      <Message title={phase.message} testId="session-error">
        <a href="/login">Log in</a>
      </Message>
    );
  }

  const doc = runtime.active ? runtime.docs.get(runtime.active) : undefined;
  const canEdit = role !== "viewer";
  return (
    <div class="session-page">
      <header class="session-bar">
        <a href="/" class="session-home" title="Your sessions">
          ‹
        </a>
        <h1 data-testid="session-name">{session?.name ?? "Opening session…"}</h1>
        {session && <span class="session-lang">{session.language}</span>}
        {ctx && (
          <span class={`role-badge role-${role}`} data-testid="my-role">
            {role}
          </span>
        )}
        <span class="session-spacer" />
        <ConnectionBadge state={runtime.connection} />
      </header>
      <div class="session-body">
        <aside class="session-files">{ctx && <FileTree runtime={runtime} canEdit={canEdit} />}</aside>
        <main class="session-main">
          <Tabs runtime={runtime} />
          {ctx && !canEdit && (
            <div class="read-only" data-testid="read-only">
              Read-only: you are a viewer
            </div>
          )}
          {doc?.error && (
            <div class="sync-error" data-testid="sync-error" role="alert">
              <span>{doc.error.message}</span>
              <button type="button" class="icon-button" aria-label="Dismiss" onClick={() => doc.clearError()}>
                ×
              </button>
            </div>
          )}
          <Notices runtime={runtime} />
          {doc ? (
            <Editor key={doc.path} doc={doc} readOnly={!canEdit} />
          ) : (
            <div class="editor-empty" data-testid="no-file">
              {ctx ? (runtime.files.length ? "Open a file from the list." : canEdit ? "Create a file to start." : "No files yet.") : "Joining…"}
            </div>
          )}
          {ctx && <TerminalPanel ctx={ctx} />}
        </main>
        <aside class="session-side">
          {ctx && (
            <>
              <ParticipantsPanel ctx={ctx} />
              <InvitePanel ctx={ctx} />
              <DeploymentsPanel ctx={ctx} />
            </>
          )}
        </aside>
      </div>
    </div>
  );
}

function Message({ title, testId, children }: { title: string; testId?: string; children?: preact.ComponentChildren }) {
  return (
    <div class="session-message" data-testid={testId}>
      <h1>{title}</h1>
      {children}
    </div>
  );
}
