"""Live logs: each running deployment's output goes to its session as `deployment:log`.

The engine's log stream blocks for the deployment's whole life, so each follower reads
it on a daemon thread of its own (not the shared executor, which a few deployments would
exhaust) and hands lines to the loop, where they are sent in batches twice a second, each
line masked for the container's secrets (`environment.Masker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from containers.engine_seam import DeploymentEngine, DockerUnavailable
from containers.environment import Masker

log = logging.getLogger(__name__)

Announce = Callable[[uuid.UUID, str, dict[str, Any]], Awaitable[None]]
BATCH_SECONDS = 0.5
_END = object()


class LogFollowers:
    def __init__(self, engine: DeploymentEngine, announce: Announce) -> None:
        self._engine = engine
        self._announce = announce
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def follow(self, session_id: uuid.UUID, deployment_id: uuid.UUID, container_id: str) -> None:
        if container_id in self._tasks:
            return
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        thread = threading.Thread(
            target=self._read,
            args=(container_id, loop, queue),
            daemon=True,
            name=f"logs-{deployment_id}",
        )
        thread.start()
        task = loop.create_task(self._send(session_id, deployment_id, queue))
        self._tasks[container_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(container_id, None))

    def _read(
        self, container_id: str, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[object]
    ) -> None:
        try:
            secrets, stream = self._engine.log_stream(container_id, int(time.time()) - 1)
            # First on the queue: what the lines are masked with (the container's secrets).
            loop.call_soon_threadsafe(queue.put_nowait, Masker(secrets))
            for chunk in stream:
                loop.call_soon_threadsafe(queue.put_nowait, chunk)
        except (DockerUnavailable, OSError) as exc:
            log.debug("log stream of %s ended: %s", container_id, exc)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop may be closed already
                loop.call_soon_threadsafe(queue.put_nowait, _END)

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
            pending += b"".join(c for c in chunks if isinstance(c, bytes))
            *lines, rest = pending.split(b"\n")
            pending = b"" if ended else rest
            if ended and rest:
                lines.append(rest)
            if lines:
                await self._announce(
                    session_id,
                    "deployment:log",
                    {
                        "deployment_id": str(deployment_id),
                        "lines": [masker(line.decode(errors="replace")) for line in lines],
                    },
                )
            if ended:
                return

    async def close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
