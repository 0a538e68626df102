// Personal API keys: the list (prefix, scopes, last use), a new key (name, scopes, expiry;
// the key itself shown once), and revoking one.
import { useState } from "preact/hooks";
import { Button } from "../../ui/Button";
import { CopyField } from "../../ui/CopyField";
import { ConfirmDialog, Dialog } from "../../ui/Dialog";
import { ErrorBanner, Notice } from "../../ui/ErrorBanner";
import { Field, SelectField } from "../../ui/Field";
import { dateTime, relativeTime } from "../../ui/format";
import { Loading } from "../../ui/Loading";
import { useLoad } from "../../ui/useLoad";
import { sentence, useSubmit } from "../../ui/useSubmit";
import { apiKeys, createApiKey, revokeApiKey, SCOPES, type ApiKey, type NewApiKey } from "./securityApi";

const SCOPE_HINTS: Record<string, string> = {
  read: "read sessions, files and workspaces",
  write: "change them (includes read)",
  deploy: "start and stop deployments",
  admin: "platform admin routes (admins only)",
};

const EXPIRIES = [
  { value: "30", label: "30 days" },
  { value: "90", label: "90 days" },
  { value: "365", label: "1 year" },
  { value: "", label: "Never" },
];

export function ApiKeysSection() {
  const keys = useLoad(apiKeys, []);
  const [creating, setCreating] = useState(false);
  const [made, setMade] = useState<NewApiKey | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  return (
    <section class="card" data-testid="api-keys-section">
      <div class="card-head">
        <h2>API keys</h2>
        <Button small variant="primary" onClick={() => setCreating(true)} data-testid="api-key-new">
          New key
        </Button>
      </div>
      <p class="muted">
        For scripts and tools: send a key as <code>Authorization: Bearer collab_…</code>. A key can do only what you can, narrowed to its scopes, and cannot manage keys, two-factor, your
        password or your email.
      </p>
      {made && (
        <div class="subsection" data-testid="api-key-created">
          <Notice kind="success">Your new key. Copy it now: it will not be shown again.</Notice>
          <CopyField value={made.key} label="Key" testId="api-key-value" />
          <div class="actions">
            <Button small onClick={() => setMade(null)} data-testid="api-key-dismiss">
              Done
            </Button>
          </div>
        </div>
      )}
      <ErrorBanner error={keys.error} />
      {keys.loading && !keys.data && <Loading />}
      {keys.data && keys.data.length === 0 && <p class="empty">No API keys yet.</p>}
      {keys.data && keys.data.length > 0 && (
        <ul class="list" data-testid="api-key-list">
          {keys.data.map((key) => (
            <li key={key.key_id} class="list-row" data-testid="api-key-row" data-key-id={key.key_id}>
              <div class="list-main">
                <span class="list-title">{key.name}</span>
                <span class="list-meta muted">
                  <code>{key.prefix}…</code>
                  {key.scopes.map((scope) => (
                    <span key={scope} class="badge">
                      {scope}
                    </span>
                  ))}
                  <span title={dateTime(key.created_at)}>created {relativeTime(key.created_at)}</span>
                  <span title={dateTime(key.expires_at)}>{key.expires_at ? `expires ${relativeTime(key.expires_at)}` : "never expires"}</span>
                  <span title={dateTime(key.last_used_at)}>
                    {key.last_used_at ? `last used ${relativeTime(key.last_used_at)}${key.last_used_ip ? ` from ${key.last_used_ip}` : ""}` : "never used"}
                  </span>
                </span>
              </div>
              <div class="list-actions">
                <Button small variant="ghost-danger" onClick={() => setRevoking(key)} data-testid="api-key-revoke">
                  Revoke
                </Button>
              </div>
            </li>
          ))}
        </ul>
      )}
      {creating && (
        <NewKeyDialog
          onClose={() => setCreating(false)}
          onMade={(key) => {
            setCreating(false);
            setMade(key);
            void keys.reload();
          }}
        />
      )}
      {revoking && (
        <ConfirmDialog
          title="Revoke this key?"
          message={
            <>
              <strong>{revoking.name}</strong> stops working at once, for every script that uses it.
            </>
          }
          confirmLabel="Revoke"
          danger
          onConfirm={async () => {
            await revokeApiKey(revoking.key_id);
            if (made?.key_id === revoking.key_id) setMade(null);
            await keys.reload();
          }}
          onClose={() => setRevoking(null)}
        />
      )}
    </section>
  );
}

function NewKeyDialog({ onClose, onMade }: { onClose: () => void; onMade: (key: NewApiKey) => void }) {
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<string[]>(["read"]);
  const [expiry, setExpiry] = useState("90");
  const toggle = (scope: string) => setScopes((was) => (was.includes(scope) ? was.filter((s) => s !== scope) : [...was, scope]));
  const form = useSubmit(async () => {
    const body: { name: string; scopes: string[]; expires_in_days?: number } = { name: name.trim(), scopes: SCOPES.filter((s) => scopes.includes(s)) };
    if (expiry) body.expires_in_days = Number(expiry);
    onMade(await createApiKey(body));
  });
  return (
    <Dialog title="New API key" onClose={onClose} testId="api-key-dialog">
      <form class="form" onSubmit={form.submit} noValidate>
        <ErrorBanner error={form.error} />
        <Field label="Name" name="key_name" value={name} onValue={setName} maxLength={100} placeholder="CI deploys" required error={sentence(form.fields.name)} />
        <fieldset class="scopes">
          <legend>Scopes</legend>
          {SCOPES.map((scope) => (
            <label key={scope} class="scope">
              <input type="checkbox" name="scopes" value={scope} checked={scopes.includes(scope)} onChange={() => toggle(scope)} data-testid={`scope-${scope}`} />
              <span>
                <strong>{scope}</strong> <span class="muted small">{SCOPE_HINTS[scope]}</span>
              </span>
            </label>
          ))}
          {form.fields.scopes && <p class="field-error">{sentence(form.fields.scopes)}</p>}
        </fieldset>
        <SelectField label="Expires" name="expires_in_days" value={expiry} onValue={setExpiry} options={EXPIRIES} error={sentence(form.fields.expires_in_days)} />
        <div class="actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={form.busy} data-testid="api-key-create">
            Create key
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
