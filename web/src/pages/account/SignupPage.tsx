// /signup: email, username, password (its rules shown up front), optional names; each
// refused field says why next to itself.
import { useState } from "preact/hooks";
import { register } from "../../auth";
import { Link, navigate } from "../../router";
import { Button } from "../../ui/Button";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { Field } from "../../ui/Field";
import { sentence, useSubmit } from "../../ui/useSubmit";
import { AccountCard } from "./AccountCard";
import { withNext } from "./LoginPage";
import { OAuthButtons } from "./OAuthButtons";
import { PasswordRules } from "./PasswordRules";

export function SignupPage({ next }: { next: string }) {
  const [email, setEmail] = useState("");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [firstName, setFirstName] = useState("");
  const [lastName, setLastName] = useState("");
  const form = useSubmit(async () => {
    const fields: Record<string, string> = { email: email.trim(), username: username.trim(), password };
    if (firstName.trim()) fields.first_name = firstName.trim();
    if (lastName.trim()) fields.last_name = lastName.trim();
    await register(fields);
    navigate(next, { replace: true });
  });
  const f = form.fields;
  return (
    <AccountCard title="Create your account" subtitle="Code together in real time, then run it with one click." testId="signup-page">
      <form onSubmit={form.submit} class="form" noValidate>
        <ErrorBanner error={form.error} />
        <Field label="Email" name="email" type="email" value={email} onValue={setEmail} autoComplete="email" required autoFocus error={sentence(f.email)} />
        <Field
          label="Username"
          name="username"
          value={username}
          onValue={setUsername}
          autoComplete="username"
          required
          maxLength={50}
          hint="3–50 letters, digits or underscores."
          error={sentence(f.username)}
        />
        <Field label="Password" name="password" type="password" value={password} onValue={setPassword} autoComplete="new-password" required error={sentence(f.password)} />
        <PasswordRules password={password} />
        <div class="field-pair">
          <Field label="First name (optional)" name="first_name" value={firstName} onValue={setFirstName} autoComplete="given-name" maxLength={100} error={sentence(f.first_name)} />
          <Field label="Last name (optional)" name="last_name" value={lastName} onValue={setLastName} autoComplete="family-name" maxLength={100} error={sentence(f.last_name)} />
        </div>
        <Button type="submit" variant="primary" busy={form.busy} block>
          Sign up
        </Button>
      </form>
      <OAuthButtons next={next} />
      <p class="account-switch">
        Already have an account? <Link href={withNext("/login", next)}>Log in</Link>
      </p>
    </AccountCard>
  );
}
