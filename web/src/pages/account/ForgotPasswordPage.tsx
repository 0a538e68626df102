// /forgot-password: ask for a reset link (the answer never says whether the account exists).
import { useState } from "preact/hooks";
import { api } from "../../api";
import { Link } from "../../router";
import { Button } from "../../ui/Button";
import { ErrorBanner, Notice } from "../../ui/ErrorBanner";
import { Field } from "../../ui/Field";
import { sentence, useSubmit } from "../../ui/useSubmit";
import { AccountCard } from "./AccountCard";

export function ForgotPasswordPage() {
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState<string | null>(null);
  const form = useSubmit(async () => {
    const answer = await api<{ message?: string }>("POST", "/api/auth/password/forgot", { body: { email: email.trim() }, auth: false });
    setSent(answer?.message ?? "If an account has this address, a reset link is on its way.");
  });
  return (
    <AccountCard title="Reset your password" subtitle="We'll email you a link to choose a new one." testId="forgot-password-page">
      {sent ? (
        <Notice kind="success" testId="forgot-sent">
          {sent}
        </Notice>
      ) : (
        <form onSubmit={form.submit} class="form" noValidate>
          <ErrorBanner error={form.error} />
          <Field label="Email" name="email" type="email" value={email} onValue={setEmail} autoComplete="email" required autoFocus error={sentence(form.fields.email)} />
          <Button type="submit" variant="primary" busy={form.busy} block>
            Send reset link
          </Button>
        </form>
      )}
      <p class="account-switch">
        <Link href="/login">Back to log in</Link>
      </p>
    </AccountCard>
  );
}
