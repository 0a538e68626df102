"""Taking back edits that storage refused, without the client reconnecting.

An edit that could not be stored (PostgreSQL down) is refused with `sync-error`
`unavailable` and stays in its author's editor; everything typed after it continues it, so
the server could not admit those edits on their own either. Instead the socket is asked
for its diff: the server sends it a `sync-step-1` with the document's state vector (the
y-socket.io client answers one at any time) and submits the answer as it does a reconnect's
diff. That diff holds the refused edit and everything typed since.

Per socket, one of two states:
- waiting: storage refused; the next ask is after a delay (0.25 s doubling to 2 s), or at
  once when any edit is stored again (storage answers). An edit arriving meanwhile is
  refused `unavailable` again (it does not hasten the ask: a typing author would otherwise
  send a growing diff four times a second through an outage).
- asked: a `sync-step-1` is out. Edits arriving before its answer are dropped quietly: the
  client made them before it computed its answer, so the answer carries them.
If storing the answer fails too, the socket is waiting again, with the next delay. An answer
refused for another reason (over the byte budget, say) or none within 10 s counts as a
strike and the socket is asked again later; after three strikes it is left alone (its edits
then come back when it reconnects, whose state-vector exchange carries them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

FIRST_DELAY = 0.25
MAX_DELAY = 2.0
ANSWER_SECONDS = 10.0  # a client that does not answer is asked again after this
MAX_STRIKES = 3

Ask = Callable[[str], Awaitable[bool]]  # send the socket a sync-step-1; False if it is gone


class _Pending:
    __slots__ = ("asked", "delay", "poke", "task")

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.asked = False
        self.poke = asyncio.Event()
        self.task: asyncio.Task[None] | None = None


class Resyncs:
    def __init__(self, ask: Ask) -> None:
        self._ask = ask
        self._pending: dict[str, _Pending] = {}
        self._delays: dict[str, float] = {}  # the next delay of sockets refused again
        self._strikes: dict[str, int] = {}

    def pending(self, sid: str) -> bool:
        return sid in self._pending

    def waiting(self, sid: str) -> bool:
        """Refused and not asked yet (an edit now is refused as well)."""
        entry = self._pending.get(sid)
        return entry is not None and not entry.asked

    def refused(self, sid: str) -> None:
        """Storage refused an edit of this socket: ask it for its diff later."""
        entry = self._pending.get(sid)
        if entry is not None:
            if not entry.asked:
                return  # already waiting
            self._drop(sid)
        delay = self._delays.get(sid, FIRST_DELAY)
        self._delays[sid] = min(delay * 2, MAX_DELAY)
        entry = _Pending(delay)
        self._pending[sid] = entry
        entry.task = asyncio.get_running_loop().create_task(
            self._ask_later(sid, entry), name=f"resync:{sid}"
        )

    def answered(self, sid: str) -> bool:
        """The socket's answer arrived (it is submitted next; a failure calls `refused` or
        `unusable`). False if it was not asked for (a stray or late acknowledgement)."""
        entry = self._pending.get(sid)
        if entry is None or not entry.asked:
            return False
        self._drop(sid)
        return True

    def unusable(self, sid: str) -> None:
        """Its answer was refused for another reason than storage, or never came."""
        strikes = self._strikes.get(sid, 0) + 1
        if strikes >= MAX_STRIKES:
            log.info("giving up taking back %s's refused edits; they wait for its reconnect", sid)
            self.forget(sid)
            return
        self._strikes[sid] = strikes
        self.refused(sid)

    def stored(self, sid: str) -> None:
        """An edit of this socket was stored: storage answers again, so every waiting
        socket is asked now."""
        if self._delays:
            self._delays.pop(sid, None)
            self._strikes.pop(sid, None)
        if self._pending:
            for entry in self._pending.values():
                entry.poke.set()

    def forget(self, sid: str) -> None:
        self._drop(sid)
        self._delays.pop(sid, None)
        self._strikes.pop(sid, None)

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
            # Not before the first delay even when poked: storage just refused.
            await asyncio.sleep(min(entry.delay, FIRST_DELAY))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(entry.delay - FIRST_DELAY, 0.0)):
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
                self.unusable(sid)
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
