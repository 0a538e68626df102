// /login: username or email and password; back to `next` once logged in.
import { useState } from "preact/hooks";
import { login } from "../../auth";
import { Link, navigate } from "../../router";
import { Button } from "../../ui/Button";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { Field } from "../../ui/Field";
import { useSubmit } from "../../ui/useSubmit";
import { AccountCard } from "./AccountCard";
import { OAuthButtons } from "./OAuthButtons";

export function withNext(path: string, next: string): string {
  return next === "/" ? path : `${path}?next=${encodeURIComponent(next)}`;
}

export function LoginPage({ next }: { next: string }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const form = useSubmit(async () => {
    await login(name.trim(), password);
    navigate(next, { replace: true });
  });
  return (
    <AccountCard title="Log in" subtitle="Welcome back. Log in to your sessions and workspaces." testId="login-page">
      <form onSubmit={form.submit} class="form" noValidate>
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
