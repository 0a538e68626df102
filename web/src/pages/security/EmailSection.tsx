// The email address: change it (confirmed through a link mailed to the new one; the old one
// gets a notice) and, while unverified, send the verification link again.
import { useState } from "preact/hooks";
import { useUser } from "../../app/useUser";
import { Button } from "../../ui/Button";
import { ErrorBanner, Notice } from "../../ui/ErrorBanner";
import { Field } from "../../ui/Field";
import { sentence, useSubmit } from "../../ui/useSubmit";
import { changeEmail, resendVerification } from "./securityApi";

export function EmailSection() {
  const me = useUser();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [sentTo, setSentTo] = useState<string | null>(null);
  const [resent, setResent] = useState(false);
  const form = useSubmit(async () => {
    setSentTo(null);
    const address = email.trim();
    await changeEmail(address, password);
    setPassword("");
    setEmail("");
    setSentTo(address);
  });
  const resend = useSubmit(async () => {
    setResent(false);
    await resendVerification();
    setResent(true);
  });
  if (!me) return null;
  return (
    <section class="card" data-testid="email-section">
      <h2>Email address</h2>
      <p class="muted">
        <span data-testid="current-email">{me.email}</span>{" "}
        {me.email_verified ? (
          <span class="badge badge-ok">verified</span>
        ) : (
          <span class="badge badge-warn" data-testid="email-unverified">
            not verified yet
          </span>
        )}
      </p>
      {!me.email_verified && (
        <div class="subsection">
          <ErrorBanner error={resend.error} testId="resend-error" />
          {resent && (
            <Notice kind="success" testId="resend-sent">
              A new verification link is on its way to {me.email}.
            </Notice>
          )}
          <div class="actions actions-start">
            <Button small busy={resend.busy} onClick={() => void resend.submit()} data-testid="resend-verification">
              Send the verification link again
            </Button>
          </div>
        </div>
      )}
      <form class="form subsection" onSubmit={form.submit} noValidate data-testid="email-form">
        <ErrorBanner error={form.error} />
        {sentTo && (
          <Notice kind="success" testId="email-change-sent">
            We sent a confirmation link to {sentTo}. Your address changes when you open it.
          </Notice>
        )}
        <Field label="New email address" name="new_email" type="email" value={email} onValue={setEmail} autoComplete="email" required error={sentence(form.fields.new_email)} />
        <Field label="Your password" name="email_password" type="password" value={password} onValue={setPassword} autoComplete="current-password" required error={sentence(form.fields.password)} />
        <div class="actions">
          <Button type="submit" variant="primary" busy={form.busy} data-testid="email-submit">
            Change email
          </Button>
        </div>
      </form>
    </section>
  );
}
