// The open files' tabs: switch, close (closing ends that file's connection).
import { baseName } from "./paths";
import type { SessionRuntime } from "./runtime";

export function Tabs({ runtime }: { runtime: SessionRuntime }) {
  if (runtime.tabs.length === 0) return null;
  return (
    <div class="tabs" role="tablist" data-testid="tabs">
      {runtime.tabs.map((path) => {
        const doc = runtime.docs.get(path);
        const active = path === runtime.active;
        return (
          <div key={path} class={`tab${active ? " active" : ""}`} data-testid="tab" data-path={path} title={path}>
            <button type="button" role="tab" aria-selected={active} class="tab-name" onClick={() => runtime.activate(path)}>
              {doc && doc.status !== "connected" && <span class="tab-dot" title="Not connected" />}
              {baseName(path)}
            </button>
            <button type="button" class="tab-close" data-testid="tab-close" aria-label={`Close ${path}`} onClick={() => runtime.closeTab(path)}>
              ×
            </button>
          </div>
        );
      })}
    </div>
  );
}
