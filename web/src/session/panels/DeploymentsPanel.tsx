// Deploying the session's files: the Deploy button (editors and owners), the live
// deployments from the join ack kept current by `deployment:status`, the selected one's
// log fed by `deployment:log`, its preview link and Stop, and the past deployments
// (re-read whenever one ends). Viewers see all of it without the buttons.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api } from "../../api";
import type { Deployment, SessionContext } from "../context";
import { Alert } from "./Alert";
import { DeployControls } from "./DeployControls";
import { DeploymentDetails } from "./DeploymentDetails";
import { appendLines, FINAL, isLive, upsert, type LogEvent, type PastDeployment, type StatusEvent } from "./deployments";
import { messageOf } from "./format";
import { PastDeployments } from "./PastDeployments";
import { useSocketEvent } from "./useSocketEvent";
import "./panels.css";

export function DeploymentsPanel({ ctx }: { ctx: SessionContext }) {
  const [deployments, setDeployments] = useState<Deployment[]>(ctx.join.deployments);
  const [selected, setSelected] = useState<string | null>(null);
  const [logs, setLogs] = useState<Record<string, string[]>>({});
  const [past, setPast] = useState<PastDeployment[] | null>(null);
  const [pastError, setPastError] = useState<string | null>(null);
  const [deploying, setDeploying] = useState(false);
  const [stopping, setStopping] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const seeded = useRef(new Set<string>()); // deployments whose stored log was read once
  const mayDeploy = ctx.role === "owner" || ctx.role === "editor";
  const sessionPath = `/api/sessions/${encodeURIComponent(ctx.sessionId)}`;

  const reloadPast = useCallback(async () => {
    try {
      setPast(await api<PastDeployment[]>("GET", `${sessionPath}/past-deployments`));
      setPastError(null);
    } catch (err) {
      setPastError(messageOf(err));
    }
  }, [sessionPath]);

  // The full row: whether it is public, when it started, why it ended.
  const readOne = useCallback(async (id: string) => {
    try {
      const row = await api<Deployment>("GET", `/api/deployments/${encodeURIComponent(id)}`);
      setDeployments((list) => upsert(list, row));
    } catch {
      // The event's fields stay; nothing to add.
    }
  }, []);

  // A new join ack (the page re-joined) is the new truth about what runs.
  useEffect(() => {
    setDeployments((list) => {
      const ended = list.filter((d) => !isLive(d) && !ctx.join.deployments.some((j) => j.deployment_id === d.deployment_id));
      return [...ctx.join.deployments, ...ended];
    });
    void reloadPast();
  }, [ctx.join, reloadPast]);

  useSocketEvent<StatusEvent>(ctx.socket, "deployment:status", (e) => {
    const known = deployments.some((d) => d.deployment_id === e.deployment_id);
    setDeployments((list) => upsert(list, e));
    if (!known) {
      setSelected(e.deployment_id); // someone just deployed: show it
      void readOne(e.deployment_id);
    }
    if (FINAL.has(e.status)) {
      void readOne(e.deployment_id);
      void reloadPast();
    } else if (e.status === "running") {
      void readOne(e.deployment_id); // its started_at
    }
  });
  useSocketEvent<LogEvent>(ctx.socket, "deployment:log", (e) => {
    setLogs((all) => ({ ...all, [e.deployment_id]: appendLines(all[e.deployment_id], e.lines) }));
  });

  // The one shown: the chosen one, else the newest.
  const current = deployments.find((d) => d.deployment_id === selected) ?? deployments[deployments.length - 1] ?? null;

  // What it printed before this page was open (logs stay readable after it stops).
  useEffect(() => {
    const id = current?.deployment_id;
    if (!id || seeded.current.has(id)) return;
    seeded.current.add(id);
    void api<string>("GET", `/api/deployments/${encodeURIComponent(id)}/logs?tail=500`, { raw: true })
      .then((text) => {
        const stored = text ? text.replace(/\n$/, "").split("\n") : [];
        // Lines that came live meanwhile are also in the stored log: keep the longer view.
        setLogs((all) => ((all[id]?.length ?? 0) >= stored.length ? all : { ...all, [id]: appendLines(undefined, stored) }));
      })
      .catch(() => undefined);
  }, [current?.deployment_id]);

  const deploy = async (isPublic: boolean) => {
    setDeploying(true);
    setError(null);
    try {
      const started = await api<Deployment>("POST", `${sessionPath}/deployments`, { body: { public: isPublic } });
      setDeployments((list) => upsert(list, { ...started, public: isPublic }));
      setSelected(started.deployment_id);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setDeploying(false);
    }
  };

  const stop = async (id: string) => {
    setStopping(id);
    setError(null);
    try {
      await api("POST", `/api/deployments/${encodeURIComponent(id)}/stop`);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setStopping(null);
    }
  };

  const dismiss = (id: string) => {
    setDeployments((list) => list.filter((d) => d.deployment_id !== id));
    setLogs((all) => {
      const { [id]: _gone, ...rest } = all;
      return rest;
    });
    if (selected === id) setSelected(null);
  };

  return (
    <section class="pn-panel" data-testid="deployments" aria-label="Deployments">
      <header class="pn-head">
        <h3>Deployments</h3>
        {mayDeploy && <DeployControls busy={deploying} onDeploy={(p) => void deploy(p)} />}
      </header>
      {error && <Alert message={error} testid="deploy-error" onClose={() => setError(null)} />}
      {deployments.length > 1 && (
        <div class="pn-tabs" role="tablist" aria-label="Deployments">
          {deployments.map((d, i) => (
            <button key={d.deployment_id} type="button" role="tab" aria-selected={d === current}
              class={`pn-tab${d === current ? " pn-tab-on" : ""}`} data-testid={`deployment-tab-${d.deployment_id}`}
              onClick={() => setSelected(d.deployment_id)}>
              <span class={`pn-status-dot pn-status-${d.status}`} aria-hidden="true" />#{i + 1} {d.status}
            </button>
          ))}
        </div>
      )}
      {current ? (
        <DeploymentDetails
          deployment={current}
          lines={logs[current.deployment_id] ?? []}
          canStop={mayDeploy}
          stopping={stopping === current.deployment_id}
          onStop={() => void stop(current.deployment_id)}
          onDismiss={() => dismiss(current.deployment_id)}
        />
      ) : (
        <p class="pn-muted pn-small" data-testid="no-deployments">
          {mayDeploy ? "Nothing is running. Deploy to get a live preview." : "Nothing is running."}
        </p>
      )}
      <PastDeployments past={past} error={pastError} />
    </section>
  );
}
