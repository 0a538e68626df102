// A list of sessions with what my role allows on each: open; the owner renames, archives
// (or reopens) and deletes.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { api } from "../../api";
import { Link } from "../../router";
import { Button } from "../../ui/Button";
import { ConfirmDialog } from "../../ui/Dialog";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { relativeTime } from "../../ui/format";
import { RoleBadge } from "../../ui/RoleBadge";
import type { SessionSummary } from "../types";
import { languageLabel } from "./languages";
import { RenameDialog } from "./RenameDialog";

export interface SessionListProps {
  sessions: SessionSummary[];
  onChanged: (session: SessionSummary) => void;
  onDeleted: (sessionId: string) => void;
  workspaceNames?: Record<string, string>; // ws_id → name, to label sessions in a workspace
  empty?: ComponentChildren;
}

export function SessionList({ sessions, onChanged, onDeleted, workspaceNames = {}, empty }: SessionListProps) {
  if (sessions.length === 0) return <div class="empty">{empty ?? "No sessions yet."}</div>;
  return (
    <ul class="list" data-testid="session-list">
      {sessions.map((s) => (
        <SessionRow key={s.session_id} session={s} workspace={s.ws_id ? workspaceNames[s.ws_id] : undefined} onChanged={onChanged} onDeleted={onDeleted} />
      ))}
    </ul>
  );
}

type Pending = null | "rename" | "delete";

function SessionRow({ session, workspace, onChanged, onDeleted }: { session: SessionSummary; workspace?: string; onChanged: (s: SessionSummary) => void; onDeleted: (id: string) => void }) {
  const [pending, setPending] = useState<Pending>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const owner = session.role === "owner";
  const archived = session.status === "archived";
  const path = `/api/sessions/${session.session_id}`;
  const patch = async (body: Record<string, unknown>) => onChanged(await api<SessionSummary>("PATCH", path, { body }));
  const toggleArchive = async () => {
    setBusy(true);
    setError(null);
    try {
      await patch({ status: archived ? "active" : "archived" });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <li class={archived ? "list-row is-archived" : "list-row"} data-testid="session-row" data-session-id={session.session_id}>
      <div class="list-main">
        <Link href={`/sessions/${session.session_id}`} class="list-title" data-testid="session-link">
          {session.name}
        </Link>
        <div class="list-meta">
          <span class="lang">{languageLabel(session.language)}</span>
          <RoleBadge role={session.role} />
          {archived && <span class="badge badge-muted">archived</span>}
          {workspace && <span class="muted">in {workspace}</span>}
          {session.last_active && <span class="muted">active {relativeTime(session.last_active)}</span>}
        </div>
        <ErrorBanner error={error} />
      </div>
      {owner && (
        <div class="list-actions">
          {!archived && (
            <Button small variant="ghost" onClick={() => setPending("rename")} data-testid="session-rename">
              Rename
            </Button>
          )}
          <Button small variant="ghost" busy={busy} onClick={toggleArchive} data-testid={archived ? "session-unarchive" : "session-archive"}>
            {archived ? "Reopen" : "Archive"}
          </Button>
          <Button small variant="ghost-danger" onClick={() => setPending("delete")} data-testid="session-delete">
            Delete
          </Button>
        </div>
      )}
      {pending === "rename" && <RenameDialog title="Rename session" initial={session.name} onSave={(name) => patch({ name })} onClose={() => setPending(null)} />}
      {pending === "delete" && (
        <ConfirmDialog
          title="Delete this session?"
          message={
            <>
              <strong>{session.name}</strong> and all its files will be deleted for everyone. This cannot be undone.
            </>
          }
          confirmLabel="Delete session"
          danger
          onConfirm={async () => {
            await api("DELETE", path);
            onDeleted(session.session_id);
          }}
          onClose={() => setPending(null)}
        />
      )}
    </li>
  );
}
