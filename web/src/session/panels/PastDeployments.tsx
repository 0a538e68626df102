// The session's finished deployments: when they ran, for how long, and why they stopped.
import { useState } from "preact/hooks";
import { dateTime, minutes } from "./format";
import type { PastDeployment } from "./deployments";

const SHOWN = 5;

export function PastDeployments({ past, error }: { past: PastDeployment[] | null; error: string | null }) {
  const [all, setAll] = useState(false);
  if (error) return <p class="pn-error pn-small" data-testid="past-deployments-error">{error}</p>;
  if (!past) return null;
  const rows = all ? past : past.slice(0, SHOWN);
  return (
    <div class="pn-stack" data-testid="past-deployments">
      <h4 class="pn-subhead">Past deployments</h4>
      {past.length === 0 && <p class="pn-muted pn-small">None yet.</p>}
      <ul class="pn-list">
        {rows.map((p) => (
          <li key={p.past_deployment_id} class="pn-row" data-testid={`past-deployment-${p.past_deployment_id}`}>
            <span class="pn-row-text">
              <span class="pn-small">
                {dateTime(p.started_at)} → {dateTime(p.stopped_at)}
              </span>
              <span class="pn-muted pn-small">
                {minutes(p.total_runtime_minutes)}
                {p.reason_for_stop ? ` · ${p.reason_for_stop}` : ""}
              </span>
            </span>
          </li>
        ))}
      </ul>
      {past.length > SHOWN && (
        <button type="button" class="pn-text-button" onClick={() => setAll(!all)}>
          {all ? "Show fewer" : `Show all ${past.length}`}
        </button>
      )}
    </div>
  );
}
