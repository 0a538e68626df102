// The centred card the account pages (log in, sign up, reset…) are drawn in.
import type { ComponentChildren } from "preact";
import { useTitle } from "../../app/useTitle";

export function AccountCard({ title, subtitle, children, testId }: { title: string; subtitle?: ComponentChildren; children?: ComponentChildren; testId?: string }) {
  useTitle(title);
  return (
    <section class="card account-card" data-testid={testId}>
      <h1>{title}</h1>
      {subtitle && <p class="muted">{subtitle}</p>}
      {children}
    </section>
  );
}
