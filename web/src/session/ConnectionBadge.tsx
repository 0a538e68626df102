// Whether edits are reaching the server: `connected`, `reconnecting` or `offline`.
import type { Connection } from "./runtime";

export function ConnectionBadge({ state }: { state: Connection }) {
  return (
    <span class={`connection connection-${state}`} data-testid="connection" data-state={state} role="status">
      {state}
    </span>
  );
}
