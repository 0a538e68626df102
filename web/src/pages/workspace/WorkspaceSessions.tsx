// The workspace's sessions (`GET /api/workspaces/{ws_id}/sessions`, members only).
import { api } from "../../api";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { Loading } from "../../ui/Loading";
import { useLoad } from "../../ui/useLoad";
import { SessionList } from "../home/SessionList";
import type { SessionSummary } from "../types";

export function WorkspaceSessions({ wsId }: { wsId: string }) {
  const sessions = useLoad(() => api<SessionSummary[]>("GET", `/api/workspaces/${wsId}/sessions`), [wsId]);
  const all = sessions.data ?? [];
  if (sessions.loading && !sessions.data) return <Loading />;
  return (
    <>
      <ErrorBanner error={sessions.error} />
      {!sessions.error && (
        <SessionList
          sessions={all}
          onChanged={(s) => sessions.set(all.map((x) => (x.session_id === s.session_id ? s : x)))}
          onDeleted={(id) => sessions.set(all.filter((x) => x.session_id !== id))}
          empty="No sessions in this workspace yet."
        />
      )}
    </>
  );
}
