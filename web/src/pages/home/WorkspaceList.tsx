// The workspaces I can see, each a link to its page.
import { Link } from "../../router";
import { RoleBadge } from "../../ui/RoleBadge";
import type { Workspace } from "../types";

export function WorkspaceList({ workspaces }: { workspaces: Workspace[] }) {
  if (workspaces.length === 0) return <div class="empty">No workspaces yet. A workspace shares sessions with a team.</div>;
  return (
    <ul class="list list-compact" data-testid="workspace-list">
      {workspaces.map((w) => (
        <li key={w.ws_id} class="list-row" data-testid="workspace-row">
          <div class="list-main">
            <Link href={`/workspaces/${w.ws_id}`} class="list-title" data-testid="workspace-link">
              {w.name}
            </Link>
            <div class="list-meta">
              {w.role ? <RoleBadge role={w.role} /> : <span class="badge badge-muted">public</span>}
              {w.status === "archived" && <span class="badge badge-muted">archived</span>}
            </div>
          </div>
        </li>
      ))}
    </ul>
  );
}
