// Your security log: logins and failures, two-factor changes, keys, password and email
// changes, devices ended. Newest first, a page at a time.
import { useState } from "preact/hooks";
import { Button } from "../../ui/Button";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { dateTime, relativeTime } from "../../ui/format";
import { Loading } from "../../ui/Loading";
import { useLoad } from "../../ui/useLoad";
import { describeAgent } from "./DevicesSection";
import { auditPage, type AuditEntry } from "./securityApi";

// The server's action names in words, by what follows the prefix ("user.login",
// "auth.mfa_enabled", "account.restored"); an unknown one is spelled out as it is.
const ACTIONS: Record<string, string> = {
  login: "Logged in",
  login_failed: "Failed log-in",
  logout: "Logged out",
  logout_all: "Logged out everywhere",
  registered: "Account created",
  activated: "Account activated",
  updated: "Profile changed",
  mfa_enabled: "Two-factor turned on",
  mfa_disabled: "Two-factor turned off",
  mfa_failed: "Wrong two-factor code",
  mfa_verified: "Two-factor code accepted",
  recovery_codes_regenerated: "New recovery codes",
  recovery_code_used: "Recovery code used",
  password_changed: "Password changed",
  password_reset: "Password reset",
  password_reset_requested: "Password reset requested",
  email_change_requested: "Email change requested",
  email_changed: "Email changed",
  email_verified: "Email verified",
  verification_resent: "Verification link sent again",
  api_key_created: "API key created",
  api_key_revoked: "API key revoked",
  session_revoked: "Device logged out",
  device_ended: "Device logged out",
  login_ended: "Device logged out",
  new_device: "Login from a new device",
  mfa_enrolment_started: "Two-factor set-up started",
  mfa_required: "Two-factor code asked",
  reauthentication_failed: "Wrong password or code to confirm",
  deactivated: "Account deactivated",
  user_deactivated: "Account deactivated by an admin",
  user_reactivated: "Account reactivated by an admin",
  user_logged_out: "Logged out everywhere by an admin",
  deletion_refused: "Account deletion refused",
  purged: "Account removed",
  exported: "Data exported",
  deletion_requested: "Account deletion requested",
  deleted: "Account deleted",
  restored: "Account deletion cancelled",
};

export function actionLabel(action: string): string {
  const word = action.includes(".") ? action.slice(action.indexOf(".") + 1) : action;
  const known = ACTIONS[word];
  if (known) return known;
  const spelled = word.replace(/[._]+/g, " ").trim();
  return spelled ? spelled[0].toUpperCase() + spelled.slice(1) : action;
}

function details(entry: AuditEntry): string {
  const parts: string[] = [];
  const meta = entry.metadata ?? {};
  for (const key of ["name", "reason", "method"]) {
    const value = meta[key];
    if (typeof value === "string" && value) parts.push(value);
  }
  if (entry.ip_address) parts.push(entry.ip_address);
  if (entry.user_agent) parts.push(describeAgent(entry.user_agent));
  return parts.join(" · ");
}

export function AuditSection() {
  const first = useLoad(() => auditPage(null), []);
  const [more, setMore] = useState<AuditEntry[]>([]);
  const [cursor, setCursor] = useState<number | string | null | undefined>(undefined);
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState<unknown>(null);
  const next = cursor === undefined ? (first.data?.next_before ?? null) : cursor;
  const loadMore = async () => {
    if (next === null) return;
    setLoadingMore(true);
    setMoreError(null);
    try {
      const page = await auditPage(next);
      setMore((was) => [...was, ...page.items]);
      setCursor(page.next_before);
    } catch (e) {
      setMoreError(e);
    } finally {
      setLoadingMore(false);
    }
  };
  const entries = [...(first.data?.items ?? []), ...more];
  return (
    <section class="card" data-testid="audit-section">
      <div class="card-head">
        <h2>Security log</h2>
        <Button
          small
          variant="ghost"
          onClick={() => {
            setMore([]);
            setCursor(undefined);
            void first.reload();
          }}
          data-testid="audit-reload"
        >
          Refresh
        </Button>
      </div>
      <ErrorBanner error={first.error ?? moreError} />
      {first.loading && !first.data && <Loading />}
      {first.data && entries.length === 0 && <p class="empty">Nothing yet.</p>}
      {entries.length > 0 && (
        <ul class="list audit-list" data-testid="audit-list">
          {entries.map((entry) => (
            <li key={entry.log_id} class="list-row" data-testid="audit-row" data-action={entry.action}>
              <div class="list-main">
                <span class="list-title">{actionLabel(entry.action)}</span>
                <span class="list-meta muted">{details(entry)}</span>
              </div>
              <span class="muted small" title={dateTime(entry.timestamp)}>
                {relativeTime(entry.timestamp)}
              </span>
            </li>
          ))}
        </ul>
      )}
      {next !== null && entries.length > 0 && (
        <div class="actions">
          <Button small busy={loadingMore} onClick={loadMore} data-testid="audit-more">
            Show older
          </Button>
        </div>
      )}
    </section>
  );
}
