// Inviting people: an "Invite" button for those who may hand out join links (owners and
// editors; on a workspace's session the server also asks for workspace owner/admin and
// answers 403 otherwise), the dialog that makes one, and the pending links with revoke.
import { useCallback, useEffect, useState } from "preact/hooks";
import { api, ApiError } from "../../api";
import type { SessionContext } from "../context";
import { InviteDialog } from "./InviteDialog";
import type { Invitation } from "./invitations";
import { PendingInvitations } from "./PendingInvitations";
import "./panels.css";

export function InvitePanel({ ctx }: { ctx: SessionContext }) {
  const mayInvite = ctx.role === "owner" || ctx.role === "editor";
  const [open, setOpen] = useState(false);
  // null: not loaded or not available to this person (403/404/405): the list is not shown.
  const [invitations, setInvitations] = useState<Invitation[] | null>(null);
  // The list and the invite share one rule on the server: a 403 on the list means no Invite.
  const [refused, setRefused] = useState(false);

  const reload = useCallback(async () => {
    try {
      setInvitations(await api<Invitation[]>("GET", `/api/sessions/${encodeURIComponent(ctx.sessionId)}/invitations`));
      setRefused(false);
    } catch (err) {
      // Not every editor may invite (on a workspace's session only its owners and admins
      // do); a server without the list (404/405) still takes invitations.
      if (!(err instanceof ApiError)) throw err;
      setInvitations(null);
      setRefused(err.status === 403);
    }
  }, [ctx.sessionId]);

  useEffect(() => {
    if (mayInvite) void reload();
    else setInvitations(null);
  }, [mayInvite, reload]);

  const close = useCallback(() => setOpen(false), []);
  if (!mayInvite || refused) return null;
  return (
    <section class="pn-panel" data-testid="invite-panel" aria-label="Invitations">
      <header class="pn-head">
        <h3>Invite</h3>
        <button type="button" class="pn-button pn-primary" data-testid="invite-button" onClick={() => setOpen(true)}>
          Invite
        </button>
      </header>
      {invitations && (
        <PendingInvitations
          sessionId={ctx.sessionId}
          invitations={invitations}
          onRevoked={(id) => setInvitations((list) => list && list.filter((i) => i.invitation_id !== id))}
        />
      )}
      {open && <InviteDialog ctx={ctx} onClose={close} onCreated={() => void reload()} />}
    </section>
  );
}
