// Who is in the session, their role and whether they are here now.
import type { SessionContext } from "../context";

export function ParticipantsPanel({ ctx }: { ctx: SessionContext }) {
  return (
    <section class="panel" data-testid="participants">
      <h3>Participants</h3>
      <ul>
        {ctx.join.participants.map((p) => (
          <li key={p.participant_id} data-testid={`participant-${p.user.username}`}>
            {p.user.username} · {p.role}
          </li>
        ))}
      </ul>
    </section>
  );
}
