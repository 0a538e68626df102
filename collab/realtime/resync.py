"""Taking back edits the server refused but their author kept, without a reconnect.

An edit that could not be stored (PostgreSQL down, `sync-error` `unavailable`) or that came
over the socket's message or byte budget (`rate_limited`) is not applied, yet it stays in
its author's editor; everything typed after it continues it, so the server could not admit
those edits on their own either. Instead the socket is asked for its diff: the server sends
it a `sync-step-1` with the document's state vector (the y-socket.io client answers one at
any time) and submits the answer as it does a reconnect's diff (checked for size, byte
budget and role again). That diff holds the refused edit and everything typed since.

Per socket, one of two states:
- waiting: an edit was refused; the socket is asked later. An edit arriving meanwhile is
  refused with the same code (it does not hasten the ask).
  - storage (`refused`): after 0.25 s doubling to 2 s, or at once (but not before 0.25 s)
    when any edit is stored again (storage answers). A typing author does not hasten it: it
    would otherwise send a growing diff four times a second through an outage.
  - budget (`limited`): after 1 s (2, 4 s when its answers were refused again), and not
    sooner when others' edits are stored: the budgets are per second, so a second refills a
    second's worth of each and the diff, charged to the byte budget, then passes. Edits
    meanwhile still pass through the budgets first, refused `rate_limited` over them as any
    flood is (one small error each, no other work; the budgets bound what is checked), and
    within them refused `rate_limited` as well, for one second at a time.
- asked: a `sync-step-1` is out. Edits arriving before its answer are dropped quietly: the
  client made them before it computed its answer, so the answer carries them.
If storing the answer fails too, the socket is waiting for storage again, with the next
delay. An answer refused for another reason (over the byte budget, say) or none within
10 s counts as a strike and the socket is asked again later; after three strikes it is left
alone for as long as it stays connected, unless one of its edits is stored again (its edits
then come back when it reconnects, whose state-vector exchange carries them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

UNAVAILABLE = "unavailable"  # storage refused
RATE_LIMITED = "rate_limited"  # over the socket's message or byte budget
FIRST_DELAY = 0.25
MAX_DELAY = 2.0
LIMITED_DELAY = 1.0  # doubled for each strike
ANSWER_SECONDS = 10.0  # a client that does not answer is asked again after this
MAX_STRIKES = 3

Ask = Callable[[str], Awaitable[bool]]  # send the socket a sync-step-1; False if it is gone


class _Pending:
    __slots__ = ("asked", "code", "earliest", "latest", "poke", "task")

    def __init__(self, code: str, earliest: float, latest: float) -> None:
        self.code = code  # what its edits are refused with while it waits
        self.earliest = earliest  # seconds: not asked sooner, even when poked
        self.latest = latest  # seconds: asked by then without a poke
        self.asked = False
        self.poke = asyncio.Event()
        self.task: asyncio.Task[None] | None = None


class Resyncs:
    def __init__(self, ask: Ask) -> None:
        self._ask = ask
        self._pending: dict[str, _Pending] = {}
        self._delays: dict[str, float] = {}  # the next delay of sockets refused again
        self._strikes: dict[str, int] = {}
        # Sockets whose answers failed MAX_STRIKES times: not asked again while connected
        # (every unanswered ask holds a callback in python-socketio until the disconnect).
        self._given_up: set[str] = set()

    def pending(self, sid: str) -> bool:
        return sid in self._pending

    def asked(self, sid: str) -> bool:
        """Its `sync-step-1` is out: the answer carries whatever it edits meanwhile."""
        entry = self._pending.get(sid)
        return entry is not None and entry.asked

    def waiting(self, sid: str) -> str | None:
        """Refused and not asked yet: the code an edit now is refused with as well."""
        entry = self._pending.get(sid)
        return entry.code if entry is not None and not entry.asked else None

    def refused(self, sid: str) -> None:
        """Storage refused an edit of this socket: ask it for its diff later."""
        if sid in self._given_up or self._already(sid):
            return
        delay = self._delays.get(sid, FIRST_DELAY)
        self._delays[sid] = min(delay * 2, MAX_DELAY)
        self._wait(sid, _Pending(UNAVAILABLE, min(delay, FIRST_DELAY), delay))

    def limited(self, sid: str) -> bool:
        """An edit of this socket came over its budget: ask it for its diff once the budget
        has refilled a little. An asked socket's answer carries the edit already. False if
        the edit will not be taken back (the socket was given up on)."""
        if sid in self._given_up:
            return False
        if sid not in self._pending:
            delay = LIMITED_DELAY * 2 ** self._strikes.get(sid, 0)
            self._wait(sid, _Pending(RATE_LIMITED, delay, delay))
        return True

    def answered(self, sid: str) -> str | None:
        """The socket's answer arrived (it is submitted next; a failure calls `refused` or
        `unusable`): the code it had been refused with. None if it was not asked for (a
        stray or late acknowledgement)."""
        entry = self._pending.get(sid)
        if entry is None or not entry.asked:
            return None
        self._drop(sid)
        return entry.code

    def unusable(self, sid: str, code: str = UNAVAILABLE) -> None:
        """Its answer was refused for another reason than storage, or never came: ask
        again later, as for `code` (`rate_limited`: the answer was over the byte budget, or
        the socket had been waiting for its budget)."""
        strikes = self._strikes.get(sid, 0) + 1
        if strikes >= MAX_STRIKES:
            log.info("giving up taking back %s's refused edits; they wait for its reconnect", sid)
            self.forget(sid)
            self._given_up.add(sid)
            return
        self._strikes[sid] = strikes
        if code == RATE_LIMITED:
            self.limited(sid)
        else:
            self.refused(sid)

    def stored(self, sid: str) -> None:
        """An edit of this socket was stored: storage answers again, so every socket waiting
        for storage is asked now (one waiting for its budget keeps its own delay)."""
        if self._delays or self._strikes or self._given_up:
            self._delays.pop(sid, None)
            self._strikes.pop(sid, None)
            self._given_up.discard(sid)  # in step again: a later refusal is taken back
        if self._pending:
            for entry in self._pending.values():
                entry.poke.set()

    def forget(self, sid: str) -> None:
        self._drop(sid)
        self._delays.pop(sid, None)
        self._strikes.pop(sid, None)
        self._given_up.discard(sid)

    def _already(self, sid: str) -> bool:
        """Waiting already (keep that wait); an asked socket's ask is dropped."""
        entry = self._pending.get(sid)
        if entry is None:
            return False
        if not entry.asked:
            return True
        self._drop(sid)
        return False

    def _wait(self, sid: str, entry: _Pending) -> None:
        self._pending[sid] = entry
        entry.task = asyncio.get_running_loop().create_task(
            self._ask_later(sid, entry), name=f"resync:{sid}"
        )

    def _drop(self, sid: str) -> None:
        entry = self._pending.pop(sid, None)
        # Not the running task itself: `_ask_later` forgets a socket it found gone.
        if (
            entry is not None
            and entry.task is not None
            and entry.task is not asyncio.current_task()
        ):
            entry.task.cancel()

    async def _ask_later(self, sid: str, entry: _Pending) -> None:
        try:
            await asyncio.sleep(entry.earliest)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(entry.latest - entry.earliest, 0.0)):
                    await entry.poke.wait()
            if self._pending.get(sid) is not entry:
                return
            entry.asked = True
            if not await self._ask(sid):
                self.forget(sid)
                return
            await asyncio.sleep(ANSWER_SECONDS)
            if self._pending.get(sid) is entry:
                self._pending.pop(sid)
                self.unusable(sid, entry.code)
        except Exception:
            log.exception("asking %s for its refused edits failed", sid)
            if self._pending.get(sid) is entry:
                self.forget(sid)  # never leave its later edits dropped

    async def close(self) -> None:
        tasks = [e.task for e in self._pending.values() if e.task is not None]
        self._pending.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
