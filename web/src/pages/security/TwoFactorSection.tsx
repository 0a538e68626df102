// Two-factor authentication (TOTP): its status, turning it on (QR code or the secret typed by
// hand, then a code to prove the app works), the recovery codes shown once, new codes, and
// turning it off with a code or the password.
import { useState } from "preact/hooks";
import { Button } from "../../ui/Button";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { Field } from "../../ui/Field";
import { Loading } from "../../ui/Loading";
import { useLoad } from "../../ui/useLoad";
import { useSubmit } from "../../ui/useSubmit";
import { cleanCode, CodeField } from "./CodeField";
import { confirmTotp, disableTotp, mfaStatus, newRecoveryCodes, startTotp, type TotpEnrolment } from "./securityApi";
import { RecoveryCodes } from "./RecoveryCodes";

type Mode = { kind: "idle" } | { kind: "enrolling"; enrolment: TotpEnrolment } | { kind: "codes"; codes: string[] } | { kind: "disabling" } | { kind: "regenerating" };

// The server's SVG as an image: an <img> never runs script inside it, so the markup needs no
// sanitizing (and the CSP allows data: images).
function svgDataUrl(svg: string): string {
  const bytes = new TextEncoder().encode(svg);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `data:image/svg+xml;base64,${btoa(binary)}`;
}

// "JBSWY3DPEHPK3PXP" → "JBSW Y3DP EHPK 3PXP": easier to type into an app by hand.
function grouped(secret: string): string {
  return secret.replace(/(.{4})(?=.)/g, "$1 ");
}

export function TwoFactorSection() {
  const status = useLoad(mfaStatus, []);
  const [mode, setMode] = useState<Mode>({ kind: "idle" });
  const [starting, setStarting] = useState(false);
  const [startError, setStartError] = useState<unknown>(null);
  const idle = () => {
    setMode({ kind: "idle" });
    void status.reload();
  };
  const start = async () => {
    setStarting(true);
    setStartError(null);
    try {
      setMode({ kind: "enrolling", enrolment: await startTotp() });
    } catch (e) {
      setStartError(e);
    } finally {
      setStarting(false);
    }
  };
  const on = status.data?.totp_enabled === true;
  return (
    <section class="card" data-testid="mfa-section">
      <div class="card-head">
        <h2>Two-factor authentication</h2>
        {status.data && (
          <span class={on ? "badge badge-ok" : "badge"} data-testid="mfa-status">
            {on ? "on" : "off"}
          </span>
        )}
      </div>
      <p class="muted">After your password, log in with a code from an authenticator app (1Password, Google Authenticator, Aegis…).</p>
      {status.loading && !status.data && <Loading />}
      <ErrorBanner error={status.error ?? startError} />
      {mode.kind === "enrolling" && <Enrol enrolment={mode.enrolment} onConfirmed={(codes) => {
            setMode({ kind: "codes", codes });
            void status.reload();
          }} onCancel={idle} />}
      {mode.kind === "codes" && <RecoveryCodes codes={mode.codes} onDone={idle} />}
      {mode.kind === "disabling" && <Disable onDone={idle} onCancel={() => setMode({ kind: "idle" })} />}
      {mode.kind === "regenerating" && <Regenerate onMade={(codes) => {
            setMode({ kind: "codes", codes });
            void status.reload();
          }} onCancel={() => setMode({ kind: "idle" })} />}
      {mode.kind === "idle" && status.data && (
        <div class="actions actions-start">
          {on ? (
            <>
              <span class="muted small" data-testid="recovery-left">
                {status.data.recovery_codes_left} recovery {status.data.recovery_codes_left === 1 ? "code" : "codes"} left
              </span>
              <div class="actions-spacer" />
              <Button small onClick={() => setMode({ kind: "regenerating" })} data-testid="mfa-regenerate">
                New recovery codes
              </Button>
              <Button small variant="ghost-danger" onClick={() => setMode({ kind: "disabling" })} data-testid="mfa-disable">
                Turn off
              </Button>
            </>
          ) : (
            <Button variant="primary" busy={starting} onClick={start} data-testid="mfa-enable">
              Turn on two-factor
            </Button>
          )}
        </div>
      )}
    </section>
  );
}

function Enrol({ enrolment, onConfirmed, onCancel }: { enrolment: TotpEnrolment; onConfirmed: (codes: string[]) => void; onCancel: () => void }) {
  const [code, setCode] = useState("");
  const form = useSubmit(async () => {
    const answer = await confirmTotp(cleanCode(code));
    onConfirmed(answer.recovery_codes);
  });
  return (
    <div class="enrol" data-testid="mfa-enrol">
      <ol class="steps">
        <li>Scan this QR code with your authenticator app.</li>
      </ol>
      <div class="enrol-grid">
        <img class="qr" src={svgDataUrl(enrolment.qr_svg)} alt="QR code for your authenticator app" width={184} height={184} data-testid="mfa-qr" />
        <div class="enrol-secret">
          <p class="muted small">Can't scan it? Enter this key in the app instead:</p>
          <code class="secret" data-testid="mfa-secret" data-secret={enrolment.secret}>
            {grouped(enrolment.secret)}
          </code>
        </div>
      </div>
      <form class="form" onSubmit={form.submit} noValidate>
        <ol class="steps" start={2}>
          <li>Enter the 6-digit code the app shows now.</li>
        </ol>
        <ErrorBanner error={form.error} testId="mfa-confirm-error" />
        <CodeField name="code" label="Code" value={code} onValue={setCode} autoFocus error={form.fields.code} testId="mfa-confirm-code" />
        <div class="actions">
          <Button onClick={onCancel}>Cancel</Button>
          <Button type="submit" variant="primary" busy={form.busy} data-testid="mfa-confirm">
            Turn on
          </Button>
        </div>
      </form>
    </div>
  );
}

function Disable({ onDone, onCancel }: { onDone: () => void; onCancel: () => void }) {
  const [withPassword, setWithPassword] = useState(false);
  const [value, setValue] = useState("");
  const form = useSubmit(async () => {
    await disableTotp(withPassword ? { password: value } : { code: cleanCode(value) });
    onDone();
  });
  return (
    <form class="form subsection" onSubmit={form.submit} noValidate data-testid="mfa-disable-form">
      <p class="muted">Turning it off makes your password alone enough to log in.</p>
      <ErrorBanner error={form.error} testId="mfa-disable-error" />
      {withPassword ? (
        <Field key="password" label="Your password" name="password" type="password" value={value} onValue={setValue} autoComplete="current-password" autoFocus error={form.fields.password} />
      ) : (
        <CodeField key="code" name="code" label="A code from your app" value={value} onValue={setValue} autoFocus error={form.fields.code} />
      )}
      <div class="actions">
        <button
          type="button"
          class="link-button small"
          onClick={() => {
            setWithPassword(!withPassword);
            setValue("");
            form.reset();
          }}
          data-testid="mfa-disable-switch"
        >
          {withPassword ? "Use a code instead" : "Use your password instead"}
        </button>
        <div class="actions-spacer" />
        <Button onClick={onCancel}>Cancel</Button>
        <Button type="submit" variant="danger" busy={form.busy} data-testid="mfa-disable-confirm">
          Turn off two-factor
        </Button>
      </div>
    </form>
  );
}

function Regenerate({ onMade, onCancel }: { onMade: (codes: string[]) => void; onCancel: () => void }) {
  const [code, setCode] = useState("");
  const form = useSubmit(async () => onMade((await newRecoveryCodes(cleanCode(code))).recovery_codes));
  return (
    <form class="form subsection" onSubmit={form.submit} noValidate data-testid="mfa-regenerate-form">
      <p class="muted">New codes replace every code you have now; the old ones stop working.</p>
      <ErrorBanner error={form.error} testId="mfa-regenerate-error" />
      <CodeField name="code" label="A code from your app" value={code} onValue={setCode} autoFocus error={form.fields.code} />
      <div class="actions">
        <Button onClick={onCancel}>Cancel</Button>
        <Button type="submit" variant="primary" busy={form.busy} data-testid="mfa-regenerate-confirm">
          Make new codes
        </Button>
      </div>
    </form>
  );
}
