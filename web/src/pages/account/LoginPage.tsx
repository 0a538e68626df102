// /login: username or email and password; then, for accounts with two-factor on, a code
// (`MfaStep`). An OAuth login that needs the code arrives as `/login#mfa_token=…`. Back to
// `next` once logged in.
import { useState } from "preact/hooks";
import { login, takeMfaTokenFromUrl } from "../../auth";
import { Link, navigate, safeNext } from "../../router";
import { Button } from "../../ui/Button";
import { ErrorBanner, Notice } from "../../ui/ErrorBanner";
import { Field } from "../../ui/Field";
import { useSubmit } from "../../ui/useSubmit";
import { AccountCard } from "./AccountCard";
import { MfaStep } from "./MfaStep";
import { OAUTH_NEXT_KEY, OAuthButtons } from "./OAuthButtons";

export function withNext(path: string, next: string): string {
  return next === "/" ? path : `${path}?next=${encodeURIComponent(next)}`;
}

// Where an OAuth login that went through the code step returns to (the page it started from,
// when this tab still remembers it).
function oauthNext(fallback: string): string {
  const remembered = sessionStorage.getItem(OAUTH_NEXT_KEY);
  sessionStorage.removeItem(OAUTH_NEXT_KEY);
  return remembered === null ? fallback : safeNext(remembered, fallback);
}

export function LoginPage({ next, deleted = false }: { next: string; deleted?: boolean }) {
  const [fromOAuth] = useState(() => takeMfaTokenFromUrl());
  const [mfaToken, setMfaToken] = useState<string | null>(fromOAuth);
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const form = useSubmit(async () => {
    const step = await login(name.trim(), password);
    if (step.kind === "mfa") {
      setMfaToken(step.mfaToken);
      return;
    }
    navigate(next, { replace: true });
  });
  if (mfaToken) {
    return (
      <AccountCard title="Two-factor authentication" testId="login-page">
        <MfaStep
          mfaToken={mfaToken}
          onDone={() => navigate(fromOAuth ? oauthNext(next) : next, { replace: true })}
          onRestart={() => {
            setMfaToken(null);
            setPassword("");
            form.reset();
          }}
        />
      </AccountCard>
    );
  }
  return (
    <AccountCard title="Log in" subtitle="Welcome back. Log in to your sessions and workspaces." testId="login-page">
      <form onSubmit={form.submit} class="form" noValidate>
        {deleted && (
          <Notice kind="warning" testId="account-deleted">
            Your account will be deleted in 7 days. Changed your mind? Log in before then to keep it.
          </Notice>
        )}
        <ErrorBanner error={form.error} />
        <Field label="Username or email" name="login" value={name} onValue={setName} autoComplete="username" required autoFocus error={form.fields.login} />
        <Field label="Password" name="password" type="password" value={password} onValue={setPassword} autoComplete="current-password" required error={form.fields.password} />
        <div class="form-row-end">
          <Link href="/forgot-password">Forgot your password?</Link>
        </div>
        <Button type="submit" variant="primary" busy={form.busy} block>
          Log in
        </Button>
      </form>
      <OAuthButtons next={next} />
      <p class="account-switch">
        New here? <Link href={withNext("/signup", next)}>Create an account</Link>
      </p>
    </AccountCard>
  );
}
