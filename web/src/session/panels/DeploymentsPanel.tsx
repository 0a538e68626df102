// Deploying the session's files: live deployments, their logs, and past ones.
import type { SessionContext } from "../context";

export function DeploymentsPanel({ ctx }: { ctx: SessionContext }) {
  return (
    <section class="panel" data-testid="deployments">
      <h3>Deployments</h3>
      {ctx.join.deployments.map((d) => (
        <div key={d.deployment_id} data-testid="deployment-status">
          {d.status}
        </div>
      ))}
    </section>
  );
}
