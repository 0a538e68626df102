// /workspaces/{ws_id}: the workspace, its sessions and its members; what my role allows.
import { useState } from "preact/hooks";
import { api, ApiError } from "../../api";
import { useTitle } from "../../app/useTitle";
import { useUser } from "../../app/useUser";
import { navigate } from "../../router";
import { Button } from "../../ui/Button";
import { ConfirmDialog } from "../../ui/Dialog";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { Loading } from "../../ui/Loading";
import { RoleBadge } from "../../ui/RoleBadge";
import { useLoad } from "../../ui/useLoad";
import { NewSessionDialog } from "../home/NewSessionDialog";
import { NotFoundPage } from "../NotFoundPage";
import { rank, type Member, type Workspace } from "../types";
import { EditWorkspaceDialog } from "./EditWorkspaceDialog";
import { InviteMemberDialog } from "./InviteMemberDialog";
import { MemberList } from "./MemberList";
import { PendingInvitations, type PendingInvitation } from "./PendingInvitations";
import { WorkspaceSessions } from "./WorkspaceSessions";

type DialogName = null | "edit" | "delete" | "invite" | "session";

export function WorkspacePage({ wsId }: { wsId: string }) {
  const me = useUser();
  const workspace = useLoad(() => api<Workspace>("GET", `/api/workspaces/${wsId}`), [wsId]);
  const role = workspace.data?.role ?? null;
  const member = role !== null;
  const manager = rank(role) >= rank("admin");
  const members = useLoad(async () => (member ? api<Member[]>("GET", `/api/workspaces/${wsId}/members`) : []), [wsId, member]);
  const invitations = useLoad(async () => (manager ? api<PendingInvitation[]>("GET", `/api/workspaces/${wsId}/invitations`) : []), [wsId, manager]);
  const [dialog, setDialog] = useState<DialogName>(null);
  useTitle(workspace.data?.name ?? "Workspace");

  if (workspace.loading && !workspace.data) return <Loading />;
  if (workspace.error instanceof ApiError && (workspace.error.status === 404 || workspace.error.code === "not_found")) {
    return <NotFoundPage title="Workspace not found" message="This workspace does not exist, or you are not one of its members." />;
  }
  if (!workspace.data) return <ErrorBanner error={workspace.error} />;
  const ws = workspace.data;
  const close = () => setDialog(null);
  return (
    <div class="stack" data-testid="workspace-page">
      <div class="page-head">
        <div>
          <h1>
            {ws.name} <RoleBadge role={role} />
            {ws.status === "archived" && <span class="badge badge-muted">archived</span>}
          </h1>
          {ws.description ? <p class="muted prewrap">{ws.description}</p> : <p class="muted">No description.</p>}
        </div>
        <div class="actions">
          {manager && (
            <Button onClick={() => setDialog("edit")} data-testid="edit-workspace">
              Edit
            </Button>
          )}
          {role === "owner" && (
            <Button variant="ghost-danger" onClick={() => setDialog("delete")} data-testid="delete-workspace">
              Delete
            </Button>
          )}
          {rank(role) >= rank("editor") && (
            <Button variant="primary" onClick={() => setDialog("session")} data-testid="new-session">
              New session
            </Button>
          )}
        </div>
      </div>
      <div class="columns">
        <section class="card" aria-labelledby="ws-sessions">
          <div class="card-head">
            <h2 id="ws-sessions">Sessions</h2>
          </div>
          {member ? <WorkspaceSessions wsId={wsId} /> : <p class="muted">Join this workspace to see its sessions.</p>}
        </section>
        <section class="card" aria-labelledby="ws-members">
          <div class="card-head">
            <h2 id="ws-members">Members</h2>
            {manager && (
              <Button small onClick={() => setDialog("invite")} data-testid="invite-button">
                Invite
              </Button>
            )}
          </div>
          <ErrorBanner error={members.error} />
          {members.loading && !members.data ? (
            <Loading />
          ) : (
            <MemberList
              wsId={wsId}
              members={members.data ?? []}
              myId={me?.user_id ?? ""}
              myRole={role}
              onChanged={() => {
                void members.reload();
                void workspace.reload(); // my own role may have changed
              }}
              onLeft={() => navigate("/", { replace: true })}
            />
          )}
          {manager && <PendingInvitations wsId={wsId} invitations={invitations} />}
        </section>
      </div>
      {dialog === "edit" && <EditWorkspaceDialog workspace={ws} onSaved={(w) => workspace.set(w)} onClose={close} />}
      {dialog === "invite" && role && <InviteMemberDialog wsId={wsId} myRole={role} onInvited={() => void invitations.reload()} onClose={close} />}
      {dialog === "session" && <NewSessionDialog workspaces={[ws]} wsId={wsId} onClose={close} />}
      {dialog === "delete" && (
        <ConfirmDialog
          title="Delete this workspace?"
          message={
            <>
              <strong>{ws.name}</strong>, its members and its settings will be deleted. This cannot be undone.
            </>
          }
          confirmLabel="Delete workspace"
          danger
          onConfirm={async () => {
            await api("DELETE", `/api/workspaces/${wsId}`);
            navigate("/", { replace: true });
          }}
          onClose={close}
        />
      )}
    </div>
  );
}
