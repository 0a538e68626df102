// The session's join links still waiting to be used, each revocable.
import { useState } from "preact/hooks";
import { api } from "../../api";
import { Alert } from "./Alert";
import { dateTime, messageOf } from "./format";
import type { Invitation } from "./invitations";

interface Props {
  sessionId: string;
  invitations: Invitation[];
  onRevoked: (invitationId: string) => void;
}

export function PendingInvitations({ sessionId, invitations, onRevoked }: Props) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const pending = invitations.filter((i) => i.status === "pending");

  const revoke = async (id: string) => {
    setBusy(id);
    setError(null);
    try {
      await api("DELETE", `/api/sessions/${encodeURIComponent(sessionId)}/invitations/${encodeURIComponent(id)}`);
      onRevoked(id);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(null);
    }
  };

  return (
    <div class="pn-stack" data-testid="invitations">
      <h4 class="pn-subhead">Pending invitations</h4>
      {pending.length === 0 && <p class="pn-muted pn-small">No pending invitations.</p>}
      {error && <Alert message={error} testid="invitations-error" onClose={() => setError(null)} />}
      <ul class="pn-list">
        {pending.map((i) => (
          <li key={i.invitation_id} class="pn-row" data-testid={`invitation-${i.invitation_id}`}>
            <span class="pn-row-text">
              <span>{i.email ?? "Anyone with the link"}</span>
              <span class="pn-muted pn-small">
                {i.role} · expires {dateTime(i.expires_at)}
              </span>
            </span>
            <button type="button" class="pn-button pn-small-button" disabled={busy === i.invitation_id}
              data-testid={`revoke-${i.invitation_id}`} onClick={() => void revoke(i.invitation_id)}>
              Revoke
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
