// The workspace's members and their roles. Owners and admins change roles (never above their
// own, never for someone ranked above them) and remove people; anyone but the last owner can
// leave. The server enforces all of this; the page only hides what would be refused.
import { useState } from "preact/hooks";
import { api } from "../../api";
import { Avatar } from "../../ui/Avatar";
import { Button } from "../../ui/Button";
import { ConfirmDialog } from "../../ui/Dialog";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { displayName } from "../../ui/format";
import { RoleBadge } from "../../ui/RoleBadge";
import { rank, type Member, type WorkspaceRole } from "../types";

const ROLES: WorkspaceRole[] = ["owner", "admin", "editor", "viewer"];

export interface MemberListProps {
  wsId: string;
  members: Member[];
  myId: string;
  myRole: WorkspaceRole | null;
  onChanged: () => void; // reload the members (and the workspace, when my own role changed)
  onLeft: () => void;
}

export function MemberList({ wsId, members, myId, myRole, onChanged, onLeft }: MemberListProps) {
  const manager = rank(myRole) >= rank("admin");
  return (
    <ul class="list" data-testid="member-list">
      {members.map((m) => (
        <MemberRow key={m.user.user_id} wsId={wsId} member={m} me={m.user.user_id === myId} manager={manager} myRole={myRole} onChanged={onChanged} onLeft={onLeft} />
      ))}
    </ul>
  );
}

interface RowProps {
  wsId: string;
  member: Member;
  me: boolean;
  manager: boolean;
  myRole: WorkspaceRole | null;
  onChanged: () => void;
  onLeft: () => void;
}

function MemberRow({ wsId, member, me, manager, myRole, onChanged, onLeft }: RowProps) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [removing, setRemoving] = useState(false);
  const path = `/api/workspaces/${wsId}/members/${member.user.user_id}`;
  const canChange = manager && rank(member.role) <= rank(myRole);
  const setRole = async (role: string) => {
    setBusy(true);
    setError(null);
    try {
      await api("PUT", path, { body: { role } });
      onChanged();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <li class="list-row" data-testid="member-row" data-user-id={member.user.user_id}>
      <Avatar person={member.user} size={32} />
      <div class="list-main">
        <span class="list-title">
          {displayName(member.user)} {me && <span class="muted">(you)</span>}
        </span>
        <div class="list-meta">
          <span class="muted">@{member.user.username}</span>
          {member.user.email && <span class="muted">{member.user.email}</span>}
          {member.status !== "active" && <span class="badge badge-muted">{member.status}</span>}
        </div>
        <ErrorBanner error={error} />
      </div>
      <div class="list-actions">
        {canChange ? (
          <select aria-label={`Role of ${member.user.username}`} value={member.role} disabled={busy} onChange={(e) => void setRole(e.currentTarget.value)} data-testid="member-role">
            {ROLES.filter((r) => rank(r) <= rank(myRole)).map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        ) : (
          <RoleBadge role={member.role} />
        )}
        {(me || canChange) && (
          <Button small variant="ghost-danger" onClick={() => setRemoving(true)} data-testid={me ? "leave-workspace" : "remove-member"}>
            {me ? "Leave" : "Remove"}
          </Button>
        )}
      </div>
      {removing && (
        <ConfirmDialog
          title={me ? "Leave this workspace?" : `Remove ${displayName(member.user)}?`}
          message={me ? "You will lose access to its sessions until someone invites you again." : "They lose access to the workspace and its sessions at once."}
          confirmLabel={me ? "Leave" : "Remove"}
          danger
          onConfirm={async () => {
            await api("DELETE", path);
            if (me) onLeft();
            else onChanged();
          }}
          onClose={() => setRemoving(false)}
        />
      )}
    </li>
  );
}
