// /invitations/{token}: an invitation to a workspace.
import { api } from "../../api";
import type { Person } from "../../ui/format";
import { InvitationView, type InvitationDetails } from "./InvitationView";

interface WorkspaceLookUp {
  workspace: { ws_id: string; name: string };
  role: string;
  invited_by: (Person & { user_id: string }) | null;
  expires_at: string | null;
  email_bound?: boolean;
}

export function WorkspaceInvitationPage({ token }: { token: string }) {
  const path = `/api/invitations/workspace/${encodeURIComponent(token)}`;
  const lookUp = async (): Promise<InvitationDetails> => {
    const w = await api<WorkspaceLookUp>("GET", path);
    return {
      target: w.workspace.name,
      role: w.role,
      invitedBy: w.invited_by,
      expiresAt: w.expires_at,
      message: null,
      emailBound: Boolean(w.email_bound),
    };
  };
  const accept = async () => {
    const membership = await api<{ ws_id: string }>("POST", `${path}/accept`);
    return `/workspaces/${membership.ws_id}`;
  };
  const decline = async () => {
    await api("POST", `${path}/decline`);
  };
  return <InvitationView kind="workspace" here={`/invitations/${encodeURIComponent(token)}`} lookUp={lookUp} accept={accept} decline={decline} />;
}
