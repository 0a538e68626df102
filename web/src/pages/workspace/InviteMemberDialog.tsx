// Invite someone to the workspace by email, with a role up to my own (never owner); then
// show the accept link to copy (the mail carries the same link).
import { useState } from "preact/hooks";
import { api } from "../../api";
import { Button } from "../../ui/Button";
import { CopyField } from "../../ui/CopyField";
import { Dialog } from "../../ui/Dialog";
import { ErrorBanner, Notice } from "../../ui/ErrorBanner";
import { Field } from "../../ui/Field";
import { dateTime } from "../../ui/format";
import { sentence, useSubmit } from "../../ui/useSubmit";
import { rank, type WorkspaceRole } from "../types";

interface Invitation {
  invitation_id: string;
  accept_url: string;
  expires_at: string;
}

const ROLES: { value: WorkspaceRole; label: string }[] = [
  { value: "viewer", label: "Viewer — reads sessions" },
  { value: "editor", label: "Editor — edits and runs sessions" },
  { value: "admin", label: "Admin — also manages members" },
];

export function InviteMemberDialog({ wsId, myRole, onInvited, onClose }: { wsId: string; myRole: WorkspaceRole; onInvited: () => void; onClose: () => void }) {
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<string>("editor");
  const [made, setMade] = useState<Invitation | null>(null);
  const offered = ROLES.filter((r) => rank(r.value) <= rank(myRole));
  const form = useSubmit(async () => {
    setMade(await api<Invitation>("POST", `/api/workspaces/${wsId}/invitations`, { body: { email: email.trim(), role } }));
    onInvited();
  });
  return (
    <Dialog title="Invite to the workspace" onClose={onClose} testId="invite-dialog">
      {made ? (
        <div class="form">
          <Notice kind="success">
            Invitation sent to <strong>{email}</strong>. It works until {dateTime(made.expires_at)}, only for that address.
          </Notice>
          <CopyField label="Invitation link" value={made.accept_url} testId="invite-link" />
          <div class="actions">
            <Button
              onClick={() => {
                setMade(null);
                setEmail("");
              }}
            >
              Invite someone else
            </Button>
            <Button variant="primary" onClick={onClose}>
              Done
            </Button>
          </div>
        </div>
      ) : (
        <form class="form" onSubmit={form.submit} noValidate>
          <ErrorBanner error={form.error} />
          <Field label="Email" name="email" type="email" value={email} onValue={setEmail} required placeholder="name@example.org" error={sentence(form.fields.email ?? form.fields.user_id)} />
          <div class="field">
            <label for="invite-role">Role</label>
            <select id="invite-role" name="role" value={role} onChange={(e) => setRole(e.currentTarget.value)} data-testid="invite-role">
              {offered.map((r) => (
                <option key={r.value} value={r.value}>
                  {r.label}
                </option>
              ))}
            </select>
            {form.fields.role && <p class="field-error">{sentence(form.fields.role)}</p>}
          </div>
          <div class="actions">
            <Button onClick={onClose}>Cancel</Button>
            <Button type="submit" variant="primary" busy={form.busy} data-testid="invite-create">
              Send invitation
            </Button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
