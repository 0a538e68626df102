"""Taking back edits that storage refused, without the client reconnecting.

An edit that could not be stored (PostgreSQL down) is refused with `sync-error`
`unavailable` and stays in its author's editor; everything typed after it continues it, so
the server could not admit those edits on their own either. Instead the socket is asked
for its diff: the server sends it a `sync-step-1` with the document's state vector (the
y-socket.io client answers one at any time) and submits the answer as it does a reconnect's
diff. That diff holds the refused edit and everything typed since.

Per socket, one of two states:
- waiting: storage refused; the next ask is after a delay (0.25 s doubling to 5 s). An edit
  arriving meanwhile is refused `unavailable` again and cuts the wait short, so a typing
  author is taken back as soon as storage answers; so does any edit stored meanwhile.
- asked: a `sync-step-1` is out. Edits arriving before its answer are dropped quietly: the
  client made them before it computed its answer, so the answer carries them. A client that
  does not answer within 10 s is no longer waited for.
If storing the answer fails too, the socket is waiting again, with the next delay.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

FIRST_DELAY = 0.25
MAX_DELAY = 5.0
ANSWER_SECONDS = 10.0  # a client that does not answer is not waited for longer

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

    def pending(self, sid: str) -> bool:
        return sid in self._pending

    def waiting(self, sid: str) -> bool:
        """Refused and not asked yet (an edit now is refused, and hastens the ask)."""
        entry = self._pending.get(sid)
        if entry is None or entry.asked:
            return False
        entry.poke.set()
        return True

    def refused(self, sid: str) -> None:
        """Storage refused an edit of this socket: ask it for its diff later."""
        entry = self._pending.get(sid)
        if entry is not None and not entry.asked:
            return  # already waiting
        delay = self._delays.get(sid, FIRST_DELAY)
        self._delays[sid] = min(delay * 2, MAX_DELAY)
        entry = _Pending(delay)
        self._pending[sid] = entry
        entry.task = asyncio.get_running_loop().create_task(
            self._ask_later(sid, entry), name=f"resync:{sid}"
        )

    def answered(self, sid: str) -> None:
        """The socket's answer arrived (it is submitted next; a failure calls `refused`)."""
        entry = self._pending.get(sid)
        if entry is not None and entry.asked:
            del self._pending[sid]
            if entry.task is not None:
                entry.task.cancel()

    def stored(self, sid: str) -> None:
        """An edit of this socket was stored: storage answers again, so every waiting
        socket is asked now."""
        self._delays.pop(sid, None)
        if self._pending:
            for entry in self._pending.values():
                entry.poke.set()

    def forget(self, sid: str) -> None:
        entry = self._pending.pop(sid, None)
        self._delays.pop(sid, None)
        if entry is not None and entry.task is not None:
            entry.task.cancel()

    async def _ask_later(self, sid: str, entry: _Pending) -> None:
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
            del self._pending[sid]

    async def close(self) -> None:
        tasks = [e.task for e in self._pending.values() if e.task is not None]
        self._pending.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
