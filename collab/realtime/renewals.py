"""Awareness renewals, relayed together: one message per document every RENEWAL_DELAY.

A Yjs client re-announces its unchanged awareness state every 15 s (y-protocols renews the
clock at half its 30 s `outdatedTimeout`), and the npm `y-socket.io` provider sends back
every awareness change it receives, other people's included. So each renewal relayed to
N-1 clients comes back as N-1 echoes: at 200 editors in one document, 200 renewals every
15 s made about 2,650 incoming messages a second, each a Socket.IO event of two WebSocket
frames. That saturated the server and held every edit behind it for seconds (issue #14,
docs/performance.md).

A renewal (every entry of the update is a state the room already holds, with a newer
clock) changes nothing anyone sees except how fresh it is, so it may wait: it is noted at
once (a newcomer's snapshot has it) and relayed with the document's other renewals at most
RENEWAL_DELAY later, as one `awareness-update` of several entries. Each client then echoes
one message per batch instead of one per renewal. Everything else (a new state, a cursor
that moved, a removal) is relayed at once, as before.

RENEWAL_DELAY keeps every peer's view fresh: a renewal is sent 15 to 18 s after the last
one, so a peer hears from each client at most 18 + RENEWAL_DELAY s apart, well inside the
30 s after which it would drop that client's cursor.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from collab.documents import awareness
from collab.documents.room import DocumentRoom, Member

log = logging.getLogger(__name__)

RENEWAL_DELAY = 2.0

Relay = Callable[[DocumentRoom, bytes], Awaitable[None]]


def held_states(room: DocumentRoom, member: Member) -> dict[int, awareness.AwarenessEntry]:
    """The states this socket announced, as the room holds them (before an update)."""
    held = {}
    for client_id in member.client_clocks:
        entry = room.awareness.get(client_id)
        if entry is not None:
            held[client_id] = entry
    return held


def is_renewal(stamped: bytes, before: dict[int, awareness.AwarenessEntry]) -> bool:
    """Every entry of an accepted (stamped) update repeats the state held before it."""
    entries = awareness.decode(stamped)
    return bool(entries) and all(
        (held := before.get(entry.client_id)) is not None
        and entry.state == held.state
        and entry.state != "null"
        and entry.clock > held.clock
        for entry in entries
    )


class RenewalRelay:
    def __init__(self, relay: Relay, delay: float = RENEWAL_DELAY) -> None:
        self._relay = relay
        self._delay = delay
        # Per room, the client ids with a renewal waiting (the room holds the entry itself).
        self._waiting: dict[DocumentRoom, set[int]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def defer(self, room: DocumentRoom, stamped: bytes) -> None:
        ids = {entry.client_id for entry in awareness.decode(stamped)}
        waiting = self._waiting.get(room)
        if waiting is not None:
            waiting |= ids
            return
        self._waiting[room] = ids
        task = asyncio.get_running_loop().create_task(self._flush_later(room))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush_later(self, room: DocumentRoom) -> None:
        await asyncio.sleep(self._delay)
        ids = self._waiting.pop(room, set())
        # The room's current entries: a client that left meanwhile is not renewed, one whose
        # state changed since was relayed at once and is sent again harmlessly (same clock).
        entries = [entry for cid in ids if (entry := room.awareness.get(cid)) is not None]
        if not entries:
            return
        try:
            await self._relay(room, awareness.encode(entries))
        except Exception:  # a lost renewal is renewed again 15 s later
            log.exception("relaying awareness renewals for %s failed", room.key)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
