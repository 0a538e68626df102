// The selected deployment: status, preview link, stop, why it ended, and its log.
import type { Deployment } from "../context";
import { DeploymentLog } from "./DeploymentLog";
import { isLive } from "./deployments";
import { dateTime } from "./format";
import { PreviewLink } from "./PreviewLink";

interface Props {
  deployment: Deployment;
  lines: string[];
  canStop: boolean;
  stopping: boolean;
  onStop: () => void;
  onDismiss: () => void;
}

export function DeploymentDetails({ deployment: d, lines, canStop, stopping, onStop, onDismiss }: Props) {
  const live = isLive(d);
  return (
    <div class="pn-stack" data-testid="deployment" data-deployment-id={d.deployment_id}>
      <div class="pn-status-line">
        <span class={`pn-status pn-status-${d.status}`} data-testid="deployment-status" aria-live="polite">
          {d.status}
        </span>
        <span class="pn-muted pn-small">
          {d.public === true ? "public" : d.public === false ? "private" : ""}
          {d.started_at && live ? ` · since ${dateTime(String(d.started_at))}` : ""}
        </span>
      </div>
      {!live && d.reason ? (
        <p class={d.status === "failed" ? "pn-error pn-small" : "pn-muted pn-small"} data-testid="deployment-reason">
          {String(d.reason)}
        </p>
      ) : null}
      <div class="pn-actions pn-actions-left">
        {d.status === "running" && d.deployment_url ? <PreviewLink deployment={d} /> : null}
        {live && canStop && (
          <button type="button" class="pn-button pn-danger" data-testid="stop-deployment" disabled={stopping || d.status === "stopping"} onClick={onStop}>
            {stopping || d.status === "stopping" ? "Stopping…" : "Stop"}
          </button>
        )}
        {!live && (
          <button type="button" class="pn-button" data-testid="dismiss-deployment" onClick={onDismiss}>
            Dismiss
          </button>
        )}
      </div>
      <DeploymentLog lines={lines} />
    </div>
  );
}
