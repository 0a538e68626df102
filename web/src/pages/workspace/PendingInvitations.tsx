// Invitations not answered yet (owners and admins): who, which role, until when; revoke one.
import { useState } from "preact/hooks";
import { api } from "../../api";
import { Button } from "../../ui/Button";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { relativeTime } from "../../ui/format";
import { RoleBadge } from "../../ui/RoleBadge";
import type { Loaded } from "../../ui/useLoad";

export interface PendingInvitation {
  invitation_id: string;
  invited_email?: string | null;
  role: string;
  status?: string;
  expires_at?: string;
  [key: string]: unknown;
}

export function PendingInvitations({ wsId, invitations }: { wsId: string; invitations: Loaded<PendingInvitation[]> }) {
  const [error, setError] = useState<unknown>(null);
  const pending = (invitations.data ?? []).filter((i) => (i.status ?? "pending") === "pending");
  if (invitations.error) return <ErrorBanner error={invitations.error} />;
  if (pending.length === 0) return null;
  const revoke = async (id: string) => {
    setError(null);
    try {
      await api("DELETE", `/api/workspaces/${wsId}/invitations/${id}`);
    } catch (e) {
      setError(e);
    }
    await invitations.reload();
  };
  return (
    <div class="subsection" data-testid="pending-invitations">
      <h3>Pending invitations</h3>
      <ErrorBanner error={error} />
      <ul class="list list-compact">
        {pending.map((i) => (
          <li key={i.invitation_id} class="list-row">
            <div class="list-main">
              <span>{i.invited_email ?? "A member, by account"}</span>
              <div class="list-meta">
                <RoleBadge role={i.role} />
                {i.expires_at && <span class="muted">expires {relativeTime(i.expires_at)}</span>}
              </div>
            </div>
            <Button small variant="ghost-danger" onClick={() => void revoke(i.invitation_id)}>
              Revoke
            </Button>
          </li>
        ))}
      </ul>
    </div>
  );
}
