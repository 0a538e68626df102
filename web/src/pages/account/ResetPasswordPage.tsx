// /reset-password?token=…: choose a new password with the mailed token.
import { useState } from "preact/hooks";
import { api } from "../../api";
import { Link } from "../../router";
import { Button } from "../../ui/Button";
import { ErrorBanner, Notice } from "../../ui/ErrorBanner";
import { Field } from "../../ui/Field";
import { sentence, useSubmit } from "../../ui/useSubmit";
import { AccountCard } from "./AccountCard";
import { PasswordRules } from "./PasswordRules";

export function ResetPasswordPage({ token }: { token: string }) {
  const [password, setPassword] = useState("");
  const [done, setDone] = useState(false);
  const form = useSubmit(async () => {
    await api("POST", "/api/auth/password/reset", { body: { token, password }, auth: false });
    setDone(true);
  });
  if (!token) {
    return (
      <AccountCard title="Reset your password" testId="reset-password-page">
        <ErrorBanner error={new Error("This link has no reset token. Open the link from the email again, or ask for a new one.")} />
        <p class="account-switch">
          <Link href="/forgot-password">Send a new link</Link>
        </p>
      </AccountCard>
    );
  }
  return (
    <AccountCard title="Choose a new password" testId="reset-password-page">
      {done ? (
        <>
          <Notice kind="success" testId="reset-done">
            Your password was changed, and every device was logged out. Log in with the new one now.
          </Notice>
          <p class="account-switch">
            <Link href="/login">Log in</Link>
          </p>
        </>
      ) : (
        <form onSubmit={form.submit} class="form" noValidate>
          <ErrorBanner error={form.error} />
          <Field label="New password" name="password" type="password" value={password} onValue={setPassword} autoComplete="new-password" required autoFocus error={sentence(form.fields.password ?? form.fields.token)} />
          <PasswordRules password={password} />
          <Button type="submit" variant="primary" busy={form.busy} block>
            Set password
          </Button>
        </form>
      )}
    </AccountCard>
  );
}
