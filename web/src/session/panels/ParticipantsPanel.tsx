// Who is in the session, their role and whether they are here now. Starts from the join
// ack, stays live through `participant:*` events, and re-reads the full list (with
// `is_active`) on mount and after a reconnect. The owner changes roles and removes people;
// everyone sees the change through the events the server sends.
import { useCallback, useEffect, useState } from "preact/hooks";
import { api } from "../../api";
import type { Participant, Role, SessionContext } from "../context";
import { Alert } from "./Alert";
import { messageOf } from "./format";
import { ParticipantRow } from "./ParticipantRow";
import { joined, left, ordered, upsert, type LeftEvent } from "./participants";
import { useSocketEvent } from "./useSocketEvent";
import "./panels.css";

const REFRESH_MS = 30_000;

export function ParticipantsPanel({ ctx }: { ctx: SessionContext }) {
  const [people, setPeople] = useState<Participant[]>(ctx.join.participants);
  const [busy, setBusy] = useState<string | null>(null); // participant_id being changed
  const [error, setError] = useState<string | null>(null);
  const base = `/api/sessions/${encodeURIComponent(ctx.sessionId)}/participants`;

  const reload = useCallback(async () => {
    try {
      setPeople(await api<Participant[]>("GET", base));
    } catch {
      // The join ack's list stays; events keep it current.
    }
  }, [base]);

  // A new join ack (the page re-joined) is the new truth; then the full list.
  useEffect(() => {
    setPeople(ctx.join.participants);
    void reload();
  }, [ctx.join, reload]);

  // A safety net under the events: a server process that died never announces its sockets
  // leaving, and a closed tab's departure is not announced by every server version.
  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") void reload();
    }, REFRESH_MS);
    return () => clearInterval(timer);
  }, [reload]);

  useSocketEvent<Participant>(ctx.socket, "participant:joined", (p) => setPeople((list) => joined(list, p)));
  useSocketEvent<Participant>(ctx.socket, "participant:updated", (p) => setPeople((list) => upsert(list, p)));
  useSocketEvent<LeftEvent>(ctx.socket, "participant:left", (e) => setPeople((list) => left(list, e)));
  useSocketEvent<void>(ctx.socket, "connect", () => void reload());

  const change = async (p: Participant, role: Role) => {
    setBusy(p.participant_id);
    setError(null);
    try {
      const updated = await api<Participant>("PATCH", `${base}/${p.participant_id}`, { body: { role } });
      setPeople((list) => upsert(list, updated));
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(null);
    }
  };

  const remove = async (p: Participant) => {
    setBusy(p.participant_id);
    setError(null);
    try {
      await api("DELETE", `${base}/${p.participant_id}`);
      setPeople((list) => left(list, { participant_id: p.participant_id }));
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(null);
    }
  };

  const here = people.filter((p) => p.is_active).length;
  const isOwner = ctx.role === "owner";
  return (
    <section class="pn-panel" data-testid="participants" aria-label="Participants">
      <header class="pn-head">
        <h3>Participants</h3>
        <span class="pn-muted pn-small" data-testid="participants-count">
          {people.length} · {here} here now
        </span>
      </header>
      {error && <Alert message={error} testid="participants-error" onClose={() => setError(null)} />}
      <ul class="pn-people">
        {ordered(people).map((p) => (
          <ParticipantRow
            key={p.participant_id}
            participant={p}
            isMe={p.user.user_id === ctx.me.user_id}
            canManage={isOwner && p.role !== "owner" && p.user.user_id !== ctx.me.user_id}
            busy={busy === p.participant_id}
            onRole={(role) => void change(p, role)}
            onRemove={() => void remove(p)}
          />
        ))}
      </ul>
    </section>
  );
}
