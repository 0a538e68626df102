"""Live logs: each running deployment's output goes to its session as `deployment:log`.

The engine's log stream blocks for the deployment's whole life, so each stream is read on
a daemon thread of its own (not the shared executor, which a few deployments would
exhaust) and its lines handed to the loop, where they are sent in batches twice a second,
each line masked for the container's secrets (`environment.Masker`).

A stream also ends when the engine goes away (restarted, upgraded, crashed), while the
container may survive it (`--live-restore`). So when a stream ends the follower asks the
engine whether the container still runs, waiting out an engine that does not answer,
and if it does follows it again from the last record it read, by the engine's own
timestamps: every line once, none lost, however short the outage. (The reaper notices an
outage only when one of its sweeps falls into it; a follower notices every one.) It ends
when the container is gone or stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from containers.engine_seam import DeploymentEngine, DockerUnavailable
from containers.environment import Masker

log = logging.getLogger(__name__)

Announce = Callable[[uuid.UUID, str, dict[str, Any]], Awaitable[None]]
BATCH_SECONDS = 0.5
# A line is sent in pieces of at most this many bytes; an unfinished one once it is this
# long (an app that never prints a newline must not grow the server's buffer).
MAX_LINE_BYTES = 16 * 1024
# Between asking an engine that does not answer, and between streams that ended without
# a record (an engine that ends them at once must not be asked in a busy loop).
RETRY_SECONDS = 0.25
RETRY_MAX_SECONDS = 2.0
_END = object()


class LogFollowers:
    def __init__(self, engine: DeploymentEngine, announce: Announce) -> None:
        self._engine = engine
        self._announce = announce
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def follow(self, session_id: uuid.UUID, deployment_id: uuid.UUID, container_id: str) -> None:
        if container_id in self._tasks:
            return
        task = asyncio.get_running_loop().create_task(
            self._follow(session_id, deployment_id, container_id), name=f"logs-{deployment_id}"
        )
        self._tasks[container_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(container_id, None))

    async def _follow(
        self, session_id: uuid.UUID, deployment_id: uuid.UUID, container_id: str
    ) -> None:
        queue: asyncio.Queue[object] = asyncio.Queue()
        sender = asyncio.get_running_loop().create_task(
            self._send(session_id, deployment_id, queue)
        )
        stop = threading.Event()
        # The last record sent: at first, none (output from a second ago on, as before).
        after = (int(time.time()) - 1) * 1_000_000_000 - 1
        pause = RETRY_SECONDS
        try:
            while True:
                last = await self._stream(container_id, deployment_id, after, queue, stop)
                if not await self._still_running(container_id):
                    break
                if last > after:
                    pause = RETRY_SECONDS
                else:  # ended without a record: ask again, but not at once
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, RETRY_MAX_SECONDS)
                after = last
                log.debug("following the logs of %s again", deployment_id)
        except asyncio.CancelledError:
            sender.cancel()  # closing: nothing more is sent
            raise
        finally:
            stop.set()  # a reader still blocked stops at its next record
            queue.put_nowait(_END)
        await sender  # what is left, then the end

    async def _stream(
        self,
        container_id: str,
        deployment_id: uuid.UUID,
        after: int,
        queue: asyncio.Queue[object],
        stop: threading.Event,
    ) -> int:
        """Follow one stream of records stamped after `after` until it ends; the stamp of
        the last record read (`after` if none)."""
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[int] = loop.create_future()
        threading.Thread(
            target=self._read,
            args=(container_id, after, loop, queue, ended, stop),
            daemon=True,
            name=f"logs-{deployment_id}",
        ).start()
        return await ended

    def _read(
        self,
        container_id: str,
        after: int,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[object],
        ended: asyncio.Future[int],
        stop: threading.Event,
    ) -> None:
        last = after
        records: Iterator[tuple[int | None, bytes]] | None = None
        try:
            secrets, records = self._engine.log_records(container_id, after)
            # First on the queue: what the lines are masked with (the container's secrets).
            loop.call_soon_threadsafe(queue.put_nowait, Masker(secrets))
            for at, chunk in records:
                if stop.is_set():
                    break
                loop.call_soon_threadsafe(queue.put_nowait, chunk)
                last = at if at is not None else last
        except Exception as exc:  # the engine went away, or the loop closed under us
            log.debug("log stream of %s ended: %r", container_id, exc)
        finally:
            close = getattr(records, "close", None)
            if close is not None:
                close()  # the engine's stream, and its socket, with it
            with contextlib.suppress(RuntimeError):  # the loop may be closed already
                loop.call_soon_threadsafe(_settle, ended, last)

    async def _still_running(self, container_id: str) -> bool:
        """Whether the container runs, asked until the engine answers."""
        pause = RETRY_SECONDS
        while True:
            try:
                state = await self._engine.state(container_id)
            except (DockerUnavailable, OSError) as exc:
                log.debug("is %s still running? the engine does not answer: %r", container_id, exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY_MAX_SECONDS)
                continue
            return bool(state and state.get("Running"))

    async def _send(
        self, session_id: uuid.UUID, deployment_id: uuid.UUID, queue: asyncio.Queue[object]
    ) -> None:
        pending = b""
        masker = Masker(())
        while True:
            item = await queue.get()
            if isinstance(item, Masker):
                masker = item
                continue
            chunks = [item]
            await asyncio.sleep(BATCH_SECONDS)
            while not queue.empty():
                chunks.append(queue.get_nowait())
            ended = _END in chunks
            for chunk in chunks:  # a stream that resumed brings its secrets again
                if isinstance(chunk, Masker):
                    masker = chunk
            pending += b"".join(c for c in chunks if isinstance(c, bytes))
            *lines, rest = pending.split(b"\n")
            pending = b"" if ended else rest
            if ended and rest:
                lines.append(rest)
            shown = [
                piece for line in lines for piece in _pieces(masker(line.decode(errors="replace")))
            ]
            if len(pending) >= MAX_LINE_BYTES:
                start, pending = _unfinished(pending, masker)
                shown += start
            if shown:
                await self._announce(
                    session_id,
                    "deployment:log",
                    {"deployment_id": str(deployment_id), "lines": shown},
                )
            if ended:
                return

    async def close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _pieces(text: str) -> list[str]:
    """`text` in pieces of at most MAX_LINE_BYTES of UTF-8 (one piece when it fits)."""
    data = text.encode()
    if len(data) <= MAX_LINE_BYTES:
        return [text]
    pieces = []
    while data:
        cut = min(MAX_LINE_BYTES, len(data))
        while cut < len(data) and (data[cut] & 0xC0) == 0x80:  # inside a character
            cut -= 1
        pieces.append(data[:cut].decode(errors="replace"))
        data = data[cut:]
    return pieces


def _unfinished(pending: bytes, masker: Masker) -> tuple[list[str], bytes]:
    """The start of a line too long to wait for its end: the pieces to show now (masked,
    never cutting a secret), and the bytes kept for later."""
    complete = len(pending)
    for back in range(1, min(4, len(pending)) + 1):  # a character still arriving
        lead = pending[-back]
        if lead & 0xC0 == 0xC0:
            needs = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
            if needs > back:
                complete = len(pending) - back
            break
        if lead & 0x80 == 0:
            break
    text = pending[:complete].decode(errors="replace")
    end = masker.safe_end(text)
    if end <= 0:
        return [], pending
    return _pieces(masker(text[:end])), text[end:].encode() + pending[complete:]


def _settle(future: asyncio.Future[int], value: int) -> None:
    if not future.done():  # cancelled, when its follower was
        future.set_result(value)
