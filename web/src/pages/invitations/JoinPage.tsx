// /join/{token}: a session's join link.
import { api } from "../../api";
import type { Person } from "../../ui/format";
import { languageLabel } from "../home/languages";
import { InvitationView, type InvitationDetails } from "./InvitationView";

interface JoinLookUp {
  session: { session_id: string; name: string; language: string; status?: string };
  role: string;
  invited_by: (Person & { user_id: string }) | null;
  expires_at: string | null;
  message?: string | null;
  email_bound?: boolean;
}

export function JoinPage({ token }: { token: string }) {
  const path = `/api/join/${encodeURIComponent(token)}`;
  const lookUp = async (): Promise<InvitationDetails> => {
    const j = await api<JoinLookUp>("GET", path);
    return {
      target: j.session.name,
      detail: languageLabel(j.session.language),
      role: j.role,
      invitedBy: j.invited_by,
      expiresAt: j.expires_at,
      message: j.message ?? null,
      emailBound: Boolean(j.email_bound),
      blocked: j.session.status === "archived" ? "This session is archived. You can accept once its owner reopens it; you may decline now." : null,
    };
  };
  const accept = async () => {
    const joined = await api<{ session: { session_id: string } }>("POST", path);
    return `/sessions/${joined.session.session_id}`;
  };
  const decline = async () => {
    await api("POST", `${path}/decline`);
  };
  return <InvitationView kind="session" here={`/join/${encodeURIComponent(token)}`} lookUp={lookUp} accept={accept} decline={decline} />;
}
