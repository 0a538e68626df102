// Changing the password: the current one, then the new one. The server logs out every other
// device; this one stays logged in.
import { useState } from "preact/hooks";
import { Button } from "../../ui/Button";
import { ErrorBanner, Notice } from "../../ui/ErrorBanner";
import { Field } from "../../ui/Field";
import { sentence, useSubmit } from "../../ui/useSubmit";
import { PasswordRules } from "../account/PasswordRules";
import { changePassword } from "./securityApi";

export function PasswordSection() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [done, setDone] = useState(false);
  const form = useSubmit(async () => {
    setDone(false);
    await changePassword(current, next);
    setCurrent("");
    setNext("");
    setDone(true);
  });
  return (
    <section class="card" data-testid="password-section">
      <h2>Password</h2>
      <form class="form" onSubmit={form.submit} noValidate data-testid="password-form">
        <ErrorBanner error={form.error} />
        {done && (
          <Notice kind="success" testId="password-changed">
            Your password was changed. Every other device was logged out.
          </Notice>
        )}
        <Field label="Current password" name="current_password" type="password" value={current} onValue={setCurrent} autoComplete="current-password" required error={sentence(form.fields.current_password)} />
        <Field label="New password" name="new_password" type="password" value={next} onValue={setNext} autoComplete="new-password" required error={sentence(form.fields.new_password)} />
        {next && <PasswordRules password={next} />}
        <div class="actions">
          <Button type="submit" variant="primary" busy={form.busy} data-testid="password-submit">
            Change password
          </Button>
        </div>
      </form>
    </section>
  );
}
