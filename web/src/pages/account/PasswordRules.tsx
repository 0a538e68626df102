// The password rules (the contract's default policy), ticked off as the person types. The
// server has the last word: it also refuses common passwords and your own name.
const RULES: [string, (p: string) => boolean][] = [
  ["At least 8 characters", (p) => p.length >= 8],
  ["An upper-case letter", (p) => /\p{Lu}/u.test(p)],
  ["A lower-case letter", (p) => /\p{Ll}/u.test(p)],
  ["A digit", (p) => /\d/.test(p)],
];

export function PasswordRules({ password }: { password: string }) {
  return (
    <ul class="password-rules" data-testid="password-rules" aria-label="Password rules">
      {RULES.map(([label, ok]) => (
        <li key={label} class={ok(password) ? "ok" : ""}>
          {label}
        </li>
      ))}
      <li class="note">Not a common password, and not your username or email.</li>
    </ul>
  );
}
