"""A tiny round-robin TCP load balancer on loopback, as a test runs one in front of several
`collab serve` processes; and reading a process's memory and descriptors from outside.

The balancer is per TCP connection (WebSocket-only clients, as y-socket.io is, need no
stickiness), and like any load balancer it tries the next backend when one refuses the
connection: a draining process has closed its listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter
from dataclasses import dataclass, field

import psutil


@dataclass
class RoundRobin:
    backends: list[tuple[str, int]]
    host: str = "127.0.0.1"
    port: int = 0
    live: Counter[int] = field(default_factory=Counter)  # backend port -> open connections
    total: Counter[int] = field(default_factory=Counter)
    _server: asyncio.Server | None = None
    _next: itertools.cycle[int] = field(init=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._next = itertools.cycle(range(len(self.backends)))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> RoundRobin:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(len(self.backends)):
            host, port = self.backends[next(self._next)]
            try:
                up_reader, up_writer = await asyncio.open_connection(host, port)
            except OSError:
                continue  # refused: try the next backend
            break
        else:
            return
        self.live[port] += 1
        self.total[port] += 1
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self.live[port] -= 1
            up_writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()
        writer.close()


def usage(pid: int) -> tuple[int, int]:
    """(resident memory in bytes, open file descriptors) of a process."""
    process = psutil.Process(pid)
    return process.memory_info().rss, process.num_fds()
