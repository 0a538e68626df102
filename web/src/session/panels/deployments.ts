// Deployments as the panel keeps them: the live ones from the join ack, updated by
// `deployment:status`, plus the ones that ended while the panel was open (so their final
// status and reason stay readable until dismissed). Pure functions over that state.
import type { Deployment } from "../context";

export const FINAL = new Set(["stopped", "failed"]);
export const LOG_CAP = 2000; // lines kept per deployment; older ones fall off the top

export interface StatusEvent {
  deployment_id: string;
  status: string;
  deployment_url?: string | null;
  [key: string]: unknown;
}

export interface LogEvent {
  deployment_id: string;
  lines: string[];
}

export interface PastDeployment {
  past_deployment_id: string;
  deployment_id: string | null;
  deployment_url: string | null;
  started_at: string | null;
  stopped_at: string;
  total_runtime_minutes: number | null;
  reason_for_stop: string | null;
}

export function upsert(list: Deployment[], incoming: Partial<Deployment> & { deployment_id: string }): Deployment[] {
  const at = list.findIndex((d) => d.deployment_id === incoming.deployment_id);
  if (at < 0) return [...list, { status: "starting", ...incoming }];
  const merged = { ...list[at], ...incoming };
  // A late full read must not take a status back (running → starting): the events are newer.
  if (FINAL.has(list[at].status) && !FINAL.has(merged.status)) merged.status = list[at].status;
  return list.map((d, i) => (i === at ? merged : d));
}

export function appendLines(lines: string[] | undefined, more: string[]): string[] {
  const all = lines ? lines.concat(more) : more.slice();
  return all.length > LOG_CAP ? all.slice(all.length - LOG_CAP) : all;
}

export function isLive(d: Deployment): boolean {
  return !FINAL.has(d.status);
}

// The preview URL a browser opens: a private preview takes the access token once (the
// preview origin trades it for its own cookie and strips it from the URL).
export function previewUrl(d: Deployment, token: string | null): string {
  const url = String(d.deployment_url ?? "");
  if (d.public === true || !token || !url) return url;
  const u = new URL(url, window.location.origin);
  u.searchParams.set("token", token);
  return u.toString();
}
