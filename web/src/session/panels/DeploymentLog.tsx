// A deployment's output: monospace, capped, following the end unless the reader scrolled up.
import { useLayoutEffect, useRef } from "preact/hooks";

export function DeploymentLog({ lines }: { lines: string[] }) {
  const box = useRef<HTMLPreElement>(null);
  const following = useRef(true);
  useLayoutEffect(() => {
    const el = box.current;
    if (el && following.current) el.scrollTop = el.scrollHeight;
  }, [lines]);
  const onScroll = () => {
    const el = box.current;
    if (el) following.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  };
  return (
    <pre class="pn-log" ref={box} onScroll={onScroll} data-testid="deployment-log" aria-label="Deployment log" tabIndex={0}>
      {lines.length ? lines.join("\n") : <span class="pn-muted">No output yet.</span>}
    </pre>
  );
}
