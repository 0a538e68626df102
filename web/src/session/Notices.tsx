// Short-lived notices: a file renamed or deleted by someone else, a role change.
import type { SessionRuntime } from "./runtime";

export function Notices({ runtime }: { runtime: SessionRuntime }) {
  if (runtime.notices.length === 0) return null;
  return (
    <div class="notices" aria-live="polite">
      {runtime.notices.map((n) => (
        <div key={n.id} class={`notice notice-${n.tone}`} data-testid="notice">
          <span>{n.text}</span>
          <button type="button" class="icon-button" aria-label="Dismiss" onClick={() => runtime.dismiss(n.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
