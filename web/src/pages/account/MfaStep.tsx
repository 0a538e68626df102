// The second step of logging in when two-factor is on: a code from the authenticator app, or
// one of the recovery codes. The `mfaToken` stands for the password (or OAuth login) already
// given; it is short-lived and the server limits its tries, so "Start over" is always offered.
import { useState } from "preact/hooks";
import { verifyMfa } from "../../auth";
import { Button } from "../../ui/Button";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { useSubmit } from "../../ui/useSubmit";
import { cleanCode, CodeField } from "../security/CodeField";
import "../security/security.css";

export function MfaStep({ mfaToken, onDone, onRestart }: { mfaToken: string; onDone: () => void; onRestart: () => void }) {
  const [recovery, setRecovery] = useState(false);
  const [code, setCode] = useState("");
  const form = useSubmit(async () => {
    const value = cleanCode(code);
    await verifyMfa(mfaToken, recovery ? { recovery_code: value } : { code: value });
    onDone();
  });
  const switchTo = (useRecovery: boolean) => {
    setRecovery(useRecovery);
    setCode("");
    form.reset();
  };
  return (
    <form onSubmit={form.submit} class="form" noValidate data-testid="mfa-step">
      <p class="muted">
        {recovery
          ? "Enter one of the recovery codes you saved when you turned on two-factor authentication. Each works once."
          : "Enter the 6-digit code from your authenticator app."}
      </p>
      <ErrorBanner error={form.error} testId="mfa-error" />
      {recovery ? (
        <CodeField key="recovery" name="recovery_code" label="Recovery code" value={code} onValue={setCode} recovery autoFocus error={form.fields.recovery_code} />
      ) : (
        <CodeField key="code" name="code" label="Authentication code" value={code} onValue={setCode} autoFocus error={form.fields.code} />
      )}
      <Button type="submit" variant="primary" busy={form.busy} block>
        Verify
      </Button>
      <div class="mfa-links">
        <button type="button" class="link-button" onClick={() => switchTo(!recovery)} data-testid={recovery ? "use-totp-code" : "use-recovery-code"}>
          {recovery ? "Use a code from your app instead" : "Use a recovery code instead"}
        </button>
        <button type="button" class="link-button" onClick={onRestart} data-testid="mfa-restart">
          Start over
        </button>
      </div>
    </form>
  );
}
