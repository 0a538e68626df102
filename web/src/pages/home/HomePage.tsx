// /: my sessions (with a filter for archived ones) and my workspaces; create either.
import { useState } from "preact/hooks";
import { api } from "../../api";
import { useTitle } from "../../app/useTitle";
import { useUser } from "../../app/useUser";
import { Button } from "../../ui/Button";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { displayName } from "../../ui/format";
import { Loading } from "../../ui/Loading";
import { useLoad } from "../../ui/useLoad";
import type { SessionSummary, Workspace } from "../types";
import { NewSessionDialog } from "./NewSessionDialog";
import { NewWorkspaceDialog } from "./NewWorkspaceDialog";
import { SessionList } from "./SessionList";
import { WorkspaceList } from "./WorkspaceList";

export function HomePage() {
  useTitle("Dashboard");
  const me = useUser();
  const sessions = useLoad(() => api<SessionSummary[]>("GET", "/api/sessions"), []);
  const workspaces = useLoad(() => api<Workspace[]>("GET", "/api/workspaces"), []);
  const [dialog, setDialog] = useState<null | "session" | "workspace">(null);
  const [showArchived, setShowArchived] = useState(false);
  const all = sessions.data ?? [];
  const archivedCount = all.filter((s) => s.status === "archived").length;
  const shown = all
    .filter((s) => showArchived || s.status !== "archived")
    .sort((a, b) => (b.last_active ?? b.updated_at ?? "").localeCompare(a.last_active ?? a.updated_at ?? ""));
  const names = Object.fromEntries((workspaces.data ?? []).map((w) => [w.ws_id, w.name]));
  return (
    <div class="dashboard" data-testid="home-page">
      <div class="page-head">
        <div>
          <h1>{me ? `Hello, ${displayName(me)}` : "Dashboard"}</h1>
          <p class="muted">Your live sessions and the workspaces you belong to.</p>
        </div>
        <Button variant="primary" onClick={() => setDialog("session")} data-testid="new-session">
          New session
        </Button>
      </div>
      <div class="columns">
        <section class="card" aria-labelledby="sessions-heading">
          <div class="card-head">
            <h2 id="sessions-heading">Sessions</h2>
            {archivedCount > 0 && (
              <label class="toggle">
                <input type="checkbox" checked={showArchived} onChange={(e) => setShowArchived(e.currentTarget.checked)} data-testid="show-archived" />
                Show archived ({archivedCount})
              </label>
            )}
          </div>
          <ErrorBanner error={sessions.error} />
          {sessions.loading && !sessions.data ? (
            <Loading />
          ) : (
            <SessionList
              sessions={shown}
              workspaceNames={names}
              onChanged={(s) => sessions.set(all.map((x) => (x.session_id === s.session_id ? s : x)))}
              onDeleted={(id) => sessions.set(all.filter((x) => x.session_id !== id))}
              empty={
                archivedCount > 0 ? (
                  "No active sessions. Tick “Show archived” to see the others."
                ) : (
                <>
                  No sessions yet.{" "}
                  <button type="button" class="link-button" onClick={() => setDialog("session")}>
                    Create your first one
                  </button>
                  .
                </>
                )
              }
            />
          )}
        </section>
        <section class="card" aria-labelledby="workspaces-heading">
          <div class="card-head">
            <h2 id="workspaces-heading">Workspaces</h2>
            <Button small onClick={() => setDialog("workspace")} data-testid="new-workspace">
              New workspace
            </Button>
          </div>
          <ErrorBanner error={workspaces.error} />
          {workspaces.loading && !workspaces.data ? <Loading /> : <WorkspaceList workspaces={workspaces.data ?? []} />}
        </section>
      </div>
      {dialog === "session" && <NewSessionDialog workspaces={workspaces.data ?? []} onClose={() => setDialog(null)} />}
      {dialog === "workspace" && <NewWorkspaceDialog onClose={() => setDialog(null)} />}
    </div>
  );
}
