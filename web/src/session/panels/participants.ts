// The participant list as events change it: pure functions over the list, keyed by
// participant_id, so the panel's state updates stay one-liners.
import type { Participant } from "../context";

// `participant:left` means two things: from presence `{user_id, session_id}` (their last
// socket left: still a participant, now away), from a removal `{participant_id, user_id}`
// (they lost access: gone from the list).
export interface LeftEvent {
  user_id?: string;
  participant_id?: string;
  session_id?: string;
}

export function upsert(list: Participant[], incoming: Participant): Participant[] {
  const at = list.findIndex((p) => p.participant_id === incoming.participant_id);
  if (at < 0) return [...list, incoming];
  const old = list[at];
  // Events carry no email; keep the one an owner's full list had.
  const merged = { ...old, ...incoming, user: { ...old.user, ...incoming.user } };
  return list.map((p, i) => (i === at ? merged : p));
}

export function left(list: Participant[], event: LeftEvent): Participant[] {
  if (event.participant_id) return list.filter((p) => p.participant_id !== event.participant_id);
  return list.map((p) => (p.user.user_id === event.user_id ? { ...p, is_active: false } : p));
}

export function joined(list: Participant[], incoming: Participant): Participant[] {
  // A presence arrival: they are here now, whatever the row said a moment before.
  return upsert(list, { ...incoming, is_active: incoming.is_active ?? true });
}

const RANK = { owner: 0, editor: 1, viewer: 2 } as const;

// Owner first, then editors and viewers; in each, who is here now first, then by name.
export function ordered(list: Participant[]): Participant[] {
  return [...list].sort(
    (a, b) =>
      (RANK[a.role] ?? 3) - (RANK[b.role] ?? 3) ||
      Number(Boolean(b.is_active)) - Number(Boolean(a.is_active)) ||
      a.user.username.localeCompare(b.user.username),
  );
}
