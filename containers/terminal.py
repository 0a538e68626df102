"""A shell inside a running deployment, for the shared terminal.

`ShellHandle` is what an engine hands out (`DeploymentEngine.open_shell`): a blocking byte
stream to a shell on a TTY. `DockerShell` is the plain-Docker one: `docker exec` of
`/bin/sh` (busybox in every runtime image) with a TTY, as the container's own unprivileged
user, never root. Docker cannot end an exec, so closing one kills its processes from inside
the container: each shell carries a marker variable, and a second exec (as the same user)
kills the session of every process carrying it.

`Terminal` runs one handle on this process: its output is read on a thread of its own and
batched on the loop every `BATCH_SECONDS`, at most `OUTPUT_CAP` bytes a batch; the reader
waits while batches are behind, so a flood slows the shell (as a real TTY does) instead of
growing memory. Input, resize and close go to the handle off the loop, in order.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from docker.errors import APIError, DockerException, NotFound

log = logging.getLogger(__name__)

MARKER_VAR = "COLLAB_TERMINAL"
BATCH_SECONDS = 0.02
OUTPUT_CAP = 32 * 1024
READ_BYTES = 4096
# Chunks read ahead of the batches (so at most this many READ_BYTES held per terminal).
QUEUE_CHUNKS = 32

# Run as the shell's user: kill every process of the sessions of those carrying the marker
# ($1), then those themselves (one may have left its session).
_KILL_SCRIPT = r"""m="COLLAB_TERMINAL=$1"; s=" "; k=""
for p in /proc/[0-9]*; do
  tr '\0' '\n' < "$p/environ" 2>/dev/null | grep -qx "$m" || continue
  k="$k ${p#/proc/}"; t=$(cat "$p/stat" 2>/dev/null) || continue
  set -- ${t##*) }; s="$s$4 "
done
for p in /proc/[0-9]*; do
  t=$(cat "$p/stat" 2>/dev/null) || continue; set -- ${t##*) }
  case "$s" in *" $4 "*) k="$k ${p#/proc/}";; esac
done
[ -n "$k" ] && kill -KILL $k 2>/dev/null; true"""


class ShellRefused(RuntimeError):
    """No shell can be had there (the container is gone or stopped, or runs as root)."""


class ShellHandle(Protocol):
    """A shell on a TTY; every method BLOCKS (callers use a thread or the executor)."""

    def read(self) -> bytes:
        """The next output; b"" once the shell is gone."""
        ...

    def write(self, data: bytes) -> None: ...

    def resize(self, cols: int, rows: int) -> None: ...

    def close(self) -> None:
        """End the shell and everything started from it; idempotent."""
        ...


def _unprivileged(user: str) -> bool:
    name = user.split(":", 1)[0].strip()
    return name not in ("", "0", "root")


class DockerShell:
    """`/bin/sh` through Docker's exec API with a TTY, as the container's configured user."""

    def __init__(
        self, client: Any, container_id: str, exec_id: str, sock: Any, marker: str, user: str
    ) -> None:
        self._client = client
        self._container_id = container_id
        self._exec_id = exec_id
        self._sock = sock
        self._raw: socket.socket = getattr(sock, "_sock", sock)
        self._marker = marker
        self._user = user
        self._closed = False

    @classmethod
    def open(cls, client: Any, container_id: str, marker: str, cols: int, rows: int) -> DockerShell:
        """BLOCKING. `client` is a `docker.DockerClient`; `marker` names this shell."""
        try:
            container = client.containers.get(container_id)
        except NotFound:
            raise ShellRefused("the deployment's container is gone") from None
        if container.status != "running":
            raise ShellRefused(f"the deployment's container is {container.status}")
        user = str((container.attrs.get("Config") or {}).get("User") or "")
        if not _unprivileged(user):
            raise ShellRefused("the deployment runs as root: it has no terminal")
        try:
            exec_id = client.api.exec_create(
                container.id,
                ["/bin/sh"],
                stdin=True,
                tty=True,
                user=user,
                workdir="/app",
                environment={"TERM": "xterm-256color", "HOME": "/tmp", MARKER_VAR: marker},  # noqa: S108 - inside the container
            )["Id"]
            sock = client.api.exec_start(exec_id, socket=True, tty=True)
        except NotFound:
            raise ShellRefused("the deployment's container is gone") from None
        shell = cls(client, container.id, exec_id, sock, marker, user)
        shell.resize(cols, rows)
        return shell

    def read(self) -> bytes:
        try:
            return self._raw.recv(READ_BYTES)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self._raw.sendall(data)

    def resize(self, cols: int, rows: int) -> None:
        with contextlib.suppress(APIError):
            self._client.api.exec_resize(self._exec_id, height=rows, width=cols)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            killer = self._client.api.exec_create(
                self._container_id,
                ["/bin/sh", "-c", _KILL_SCRIPT, "collab-terminal-close", self._marker],
                user=self._user,
            )["Id"]
            self._client.api.exec_start(killer)
        except DockerException as exc:  # the container is gone: so is the shell
            log.debug("closing terminal %s: %s", self._marker, exc)
        with contextlib.suppress(OSError):
            self._raw.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._sock.close()
        with contextlib.suppress(OSError):
            self._raw.close()


# Output of a terminal, as text; the end of a terminal, with why.
Output = Callable[[str], Awaitable[None]]
Ended = Callable[[str], Awaitable[None]]
_END = b""


@dataclass(frozen=True)
class OutputLimits:
    batch_seconds: float = BATCH_SECONDS
    cap_bytes: int = OUTPUT_CAP


class Terminal:
    """One shell on this process: output batched to `on_output`, `on_end` once it is over."""

    def __init__(
        self,
        terminal_id: str,
        shell: ShellHandle,
        on_output: Output,
        on_end: Ended,
        limits: OutputLimits = OutputLimits(),
    ) -> None:
        self.terminal_id = terminal_id
        self._shell = shell
        self._on_output = on_output
        self._on_end = on_end
        self._limits = limits
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_CHUNKS)
        self._writing = asyncio.Lock()  # input reaches the shell in the order it came
        self._sender: asyncio.Task[None] | None = None
        self._reason: str | None = None
        self.last_input = time.monotonic()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        threading.Thread(
            target=self._read, args=(loop,), daemon=True, name=f"terminal-{self.terminal_id}"
        ).start()
        self._sender = loop.create_task(self._send(), name=f"terminal:{self.terminal_id}")

    def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            while True:
                chunk = self._shell.read()
                # Waits while the queue is full: back-pressure onto the shell.
                asyncio.run_coroutine_threadsafe(self._queue.put(chunk), loop).result()
                if not chunk:
                    return
        except (RuntimeError, asyncio.CancelledError):  # the loop is closed or closing
            return

    async def _send(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        ended = False
        while not ended:
            chunks = [await self._queue.get()]
            await asyncio.sleep(self._limits.batch_seconds)
            size = len(chunks[0])
            while chunks[-1] and size < self._limits.cap_bytes and not self._queue.empty():
                chunks.append(self._queue.get_nowait())
                size += len(chunks[-1])
            ended = chunks[-1] == _END
            text = decoder.decode(b"".join(chunks), final=ended)
            if text:
                try:
                    await self._on_output(text)
                except Exception:  # one failed emit must not end the terminal
                    log.exception("terminal %s: output not sent", self.terminal_id)
        await self._finish(self._reason or "exited")

    async def _finish(self, reason: str) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._shell.close)
        await self._on_end(reason)

    async def write(self, data: bytes) -> None:
        self.last_input = time.monotonic()
        async with self._writing:
            await asyncio.get_running_loop().run_in_executor(None, self._shell.write, data)

    async def resize(self, cols: int, rows: int) -> None:
        async with self._writing:
            await asyncio.get_running_loop().run_in_executor(None, self._shell.resize, cols, rows)

    async def close(self, reason: str) -> None:
        """End the shell; the reader then sees the end, and `on_end(reason)` follows."""
        if self._reason is None:
            self._reason = reason
        await asyncio.get_running_loop().run_in_executor(None, self._shell.close)

    async def wait(self) -> None:
        if self._sender is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
