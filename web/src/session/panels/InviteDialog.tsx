// The invite form (role, optional email, message and expiry) and, once made, the join link
// to copy.
import { useEffect, useState } from "preact/hooks";
import { api, fieldErrors } from "../../api";
import type { SessionContext } from "../context";
import { CopyField } from "./CopyField";
import { dateTime, messageOf } from "./format";
import { pageJoinUrl, type CreatedInvitation } from "./invitations";

interface Props {
  ctx: SessionContext;
  onClose: () => void;
  onCreated: () => void;
}

export function InviteDialog({ ctx, onClose, onCreated }: Props) {
  const [role, setRole] = useState<"editor" | "viewer">("editor");
  const [email, setEmail] = useState("");
  const [message, setMessage] = useState("");
  const [hours, setHours] = useState("72");
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [fields, setFields] = useState<Record<string, string>>({});
  const [created, setCreated] = useState<CreatedInvitation | null>(null);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setSending(true);
    setError(null);
    setFields({});
    const body: Record<string, unknown> = { role, expires_in_hours: Number(hours) || 72 };
    if (email.trim()) body.email = email.trim();
    if (message.trim()) body.message = message.trim();
    try {
      setCreated(await api<CreatedInvitation>("POST", `/api/sessions/${encodeURIComponent(ctx.sessionId)}/invitations`, { body }));
      onCreated();
    } catch (err) {
      setError(messageOf(err));
      setFields(fieldErrors(err));
    } finally {
      setSending(false);
    }
  };

  return (
    <div class="pn-overlay" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="pn-dialog" role="dialog" aria-modal="true" aria-labelledby="pn-invite-title" data-testid="invite-dialog">
        <header class="pn-head">
          <h3 id="pn-invite-title">Invite to “{ctx.session.name}”</h3>
          <button type="button" class="pn-icon-button" aria-label="Close" data-testid="invite-close" onClick={onClose}>
            ×
          </button>
        </header>
        {created ? (
          <div class="pn-stack">
            <p>
              Anyone who opens this link{email.trim() ? ` and signs in as ${email.trim()}` : ""} joins as <b>{role}</b>.
              It works once, until {dateTime(created.expires_at)}.
            </p>
            <CopyField value={pageJoinUrl(created)} testid="invite-link" label="Join link" />
            <div class="pn-actions">
              <button type="button" class="pn-button" data-testid="invite-another"
                onClick={() => { setCreated(null); setEmail(""); setMessage(""); }}>
                Create another
              </button>
              <button type="button" class="pn-button pn-primary" onClick={onClose}>
                Done
              </button>
            </div>
          </div>
        ) : (
          <form class="pn-stack" onSubmit={(e) => void submit(e)} data-testid="invite-form">
            <label class="pn-field">
              <span>Role</span>
              <select name="role" class="pn-input" data-testid="invite-role" value={role} onChange={(e) => setRole((e.currentTarget as HTMLSelectElement).value as "editor" | "viewer")}>
                <option value="editor">Editor — can edit files and deploy</option>
                <option value="viewer">Viewer — can only read</option>
              </select>
              {fields.role && <small class="pn-error">{fields.role}</small>}
            </label>
            <label class="pn-field">
              <span>Email <span class="pn-muted">(optional: only this person may use the link)</span></span>
              <input name="email" type="email" class="pn-input" value={email} autoComplete="off"
                onInput={(e) => setEmail((e.currentTarget as HTMLInputElement).value)} />
              {fields.email && <small class="pn-error">{fields.email}</small>}
            </label>
            <label class="pn-field">
              <span>Message <span class="pn-muted">(optional)</span></span>
              <textarea name="message" class="pn-input" rows={2} maxLength={2000} value={message}
                onInput={(e) => setMessage((e.currentTarget as HTMLTextAreaElement).value)} />
              {fields.message && <small class="pn-error">{fields.message}</small>}
            </label>
            <label class="pn-field">
              <span>Expires after (hours)</span>
              <input name="expires_in_hours" type="number" min={1} max={720} class="pn-input" value={hours}
                onInput={(e) => setHours((e.currentTarget as HTMLInputElement).value)} />
              {fields.expires_in_hours && <small class="pn-error">{fields.expires_in_hours}</small>}
            </label>
            {error && <p class="pn-error" role="alert" data-testid="invite-error">{error}</p>}
            <div class="pn-actions">
              <button type="button" class="pn-button" onClick={onClose}>Cancel</button>
              <button type="submit" class="pn-button pn-primary" disabled={sending} data-testid="invite-submit">
                {sending ? "Creating…" : "Create link"}
              </button>
            </div>
          </form>
        )}
      </div>
    </div>
  );
}
