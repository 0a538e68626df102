// Inviting people to the session: join links and the pending ones.
import type { SessionContext } from "../context";

export function InvitePanel({ ctx }: { ctx: SessionContext }) {
  if (ctx.role !== "owner") return null;
  return <section class="panel" data-testid="invite-panel" />;
}
