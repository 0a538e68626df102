// On the profile: download everything stored about you (JSON), and delete the account. The
// deletion needs the password (and a code when two-factor is on); it is undone by logging in
// within the grace period. Workspaces you alone own must be handed over or deleted first: the
// server's 409 names them.
import { useState } from "preact/hooks";
import { api, ApiError } from "../../api";
import { logout } from "../../auth";
import { Link, navigate } from "../../router";
import { Button } from "../../ui/Button";
import { Dialog } from "../../ui/Dialog";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { Field } from "../../ui/Field";
import { useLoad } from "../../ui/useLoad";
import { sentence, useSubmit } from "../../ui/useSubmit";
import { cleanCode, CodeField } from "../security/CodeField";
import { downloadText } from "../security/download";
import { mfaStatus } from "../security/securityApi";
import "../security/security.css";

export function AccountDataSection() {
  const [deleting, setDeleting] = useState(false);
  const exporting = useSubmit(async () => {
    const data = await api<unknown>("GET", "/api/auth/me/export");
    const day = new Date().toISOString().slice(0, 10);
    downloadText(`collab-export-${day}.json`, JSON.stringify(data, null, 2), "application/json");
  });
  return (
    <section class="card" data-testid="account-data">
      <h2>Your data</h2>
      <p class="muted">
        Two-factor, API keys and devices are in <Link href="/settings/security" data-testid="profile-security-link">security settings</Link>.
      </p>
      <ErrorBanner error={exporting.error} testId="export-error" />
      <div class="data-row">
        <div>
          <strong>Export your data</strong>
          <p class="muted small">Your profile, memberships, sessions, invitations, API keys (not the keys themselves) and security log, as JSON.</p>
        </div>
        <Button busy={exporting.busy} onClick={() => void exporting.submit()} data-testid="export-data">
          Download
        </Button>
      </div>
      <div class="data-row danger-zone">
        <div>
          <strong>Delete your account</strong>
          <p class="muted small">Your sessions end and you are logged out everywhere. Logging in again within 7 days cancels the deletion; after that it is permanent.</p>
        </div>
        <Button variant="danger" onClick={() => setDeleting(true)} data-testid="delete-account">
          Delete account
        </Button>
      </div>
      {deleting && <DeleteAccountDialog onClose={() => setDeleting(false)} />}
    </section>
  );
}

interface OwnedWorkspace {
  ws_id?: string;
  id?: string;
  name?: string;
}

// The 409's details: the workspaces only this person owns, in whichever shape the server
// lists them ({ws_id: name}, {workspaces: [{ws_id, name}]}, or lists of ids and names).
function soleOwned(error: unknown): { id: string; name: string }[] {
  if (!(error instanceof ApiError) || error.status !== 409 || !error.details) return [];
  const details = error.details as Record<string, unknown>;
  for (const value of Object.values(details)) {
    if (Array.isArray(value) && value.length > 0 && typeof value[0] === "object") {
      return (value as OwnedWorkspace[]).map((w) => ({ id: String(w.ws_id ?? w.id ?? ""), name: String(w.name ?? w.ws_id ?? w.id ?? "") }));
    }
  }
  // {ws_id: name, ...}
  const entries = Object.entries(details);
  if (entries.length > 0 && entries.every(([, name]) => typeof name === "string")) return entries.map(([id, name]) => ({ id, name: String(name) }));
  const names = details.workspace_names ?? details.names;
  const ids = details.workspace_ids ?? details.ids;
  if (Array.isArray(names)) return names.map((name, i) => ({ id: Array.isArray(ids) ? String(ids[i] ?? "") : "", name: String(name) }));
  return [];
}

function DeleteAccountDialog({ onClose }: { onClose: () => void }) {
  const mfa = useLoad(mfaStatus, []);
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const needsCode = mfa.data?.totp_enabled === true;
  const form = useSubmit(async () => {
    const body: { password: string; code?: string } = { password };
    if (needsCode) body.code = cleanCode(code);
    await api("DELETE", "/api/auth/me", { body });
    // Every login of the account has ended: drop this one's cookie too.
    await logout().catch(() => undefined);
    navigate("/login?deleted=1", { replace: true });
  });
  const owned = soleOwned(form.error);
  return (
    <Dialog title="Delete your account?" onClose={onClose} testId="delete-account-dialog">
      <form class="form" onSubmit={form.submit} noValidate>
        <p class="muted">Confirm with your password{needsCode ? " and a code from your authenticator app" : ""}. You can cancel within 7 days by logging in.</p>
        {owned.length === 0 && <ErrorBanner error={form.error} testId="delete-error" />}
        {owned.length > 0 && (
          <div class="banner banner-warning sole-owned" data-testid="sole-owned">
            You are the only owner of these workspaces. Give another member ownership or delete them first:
            <ul>
              {owned.map((w) => (
                <li key={w.id || w.name}>{w.id ? <Link href={`/workspaces/${encodeURIComponent(w.id)}`}>{w.name}</Link> : w.name}</li>
              ))}
            </ul>
          </div>
        )}
        <Field label="Password" name="delete_password" type="password" value={password} onValue={setPassword} autoComplete="current-password" required error={sentence(form.fields.password)} />
        {needsCode && <CodeField name="delete_code" label="Code from your app" value={code} onValue={setCode} error={sentence(form.fields.code)} />}
        <div class="actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="danger" busy={form.busy} data-testid="delete-account-confirm">
            Delete my account
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
