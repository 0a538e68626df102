"""A deployment's dependencies, installed before its app starts, cached as an image.

`DependencyInstaller.image_for` answers the runtime to start the app with: the runtime itself when
the session has no dependency file, otherwise the same runtime on the image
`collab-deps-{runtime}:{key}`, layered on the runtime image with the packages installed.
The key hashes the dependency files, the runtime image's id and the index
(`dependency_files`), so an unchanged redeploy finds the image and starts at once, silently;
a changed file, a rebuilt runtime image or another index installs again.

An install: the server fetches from the index (`dependency_fetch`), then a build container
without network installs offline and is committed (`dependency_images`). Its output goes to
the session as `deployment:log` lines prefixed `[install] `, twice a second; the whole
install has `COLLAB_DEPLOY_INSTALL_TIMEOUT_SECONDS`. A failure raises `InstallFailed` with
the installer's last lines. Installs of one key within this process wait for each other
instead of installing twice; builds run on threads of their own (at most `MAX_BUILDS` at
once) so a long install never holds the shared executor.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import dataclasses
import logging
import tempfile
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from config import Settings
from config.runtimes import Runtime
from containers import dependency_images
from containers.dependency_fetch import FetchFailed, build_job, fetch
from containers.dependency_files import DependencyFilesInvalid, InstallFailed, Plan, plan_for
from containers.engine_seam import DockerUnavailable
from containers.logs import MAX_LINE_BYTES

if TYPE_CHECKING:
    from containers.engine import DockerEngine

log = logging.getLogger(__name__)

__all__ = ["DependencyInstaller", "Indexes", "InstallFailed"]

PREFIX = "[install] "
BATCH_SECONDS = 0.5
MAX_BUILDS = 4
REASON_LINES = 6
# Lines of install output for the session (`deployment:log`), already prefixed.
Lines = Callable[[list[str]], Awaitable[None]]


def _without_credentials(url: str) -> str:
    """An index URL as shown to users: without the `user:password@` an operator may put in."""
    parts = urllib.parse.urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


@dataclasses.dataclass(frozen=True)
class Indexes:
    pip: str
    npm: str
    timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Indexes:
        return cls(
            settings.deploy_pip_index_url,
            settings.deploy_npm_registry,
            settings.deploy_install_timeout_seconds,
        )


class _Output:
    """Install output: split into lines, sent in batches, the last ones kept for a reason."""

    def __init__(self, send: Lines) -> None:
        self._send = send
        self._pending = b""
        self._lines: list[str] = []
        self.last: collections.deque[str] = collections.deque(maxlen=REASON_LINES)
        self._task: asyncio.Task[None] | None = None

    def feed(self, chunk: bytes) -> None:
        """On the loop: new output. A line longer than MAX_LINE_BYTES comes in pieces (an
        install printing no newline must not grow the buffer)."""
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        while len(self._pending) > MAX_LINE_BYTES:
            cut = MAX_LINE_BYTES
            # Not inside a character (UTF-8 continues one for 3 bytes at most).
            while cut > MAX_LINE_BYTES - 3 and (self._pending[cut] & 0xC0) == 0x80:
                cut -= 1
            lines.append(self._pending[:cut])
            self._pending = self._pending[cut:]
        for raw in lines:
            line = raw.decode(errors="replace").rstrip("\r")
            if line.strip():
                self._lines.append(PREFIX + line)
                self.last.append(line)
        if self._lines and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(BATCH_SECONDS)
        self._task = None
        await self.flush()

    def settle(self) -> None:
        """An unfinished last line counts as a line."""
        if self._pending.strip():
            self.feed(b"\n")

    async def flush(self) -> None:
        self.settle()
        lines, self._lines = self._lines, []
        if lines:
            with contextlib.suppress(Exception):  # the log is a courtesy; the install goes on
                await self._send(lines)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        await self.flush()


class DependencyInstaller:
    def __init__(self, engine: DockerEngine, indexes: Indexes) -> None:
        self._engine = engine
        self._indexes = indexes
        self._locks: dict[str, asyncio.Lock] = {}
        self._builds = concurrent.futures.ThreadPoolExecutor(
            MAX_BUILDS, thread_name_prefix="deps-build"
        )

    def close(self) -> None:
        self._builds.shutdown(wait=False, cancel_futures=True)

    async def image_for(
        self, runtime: Runtime, files: dict[str, str], deployment_id: str, send: Lines
    ) -> Runtime:
        """The runtime to start with: on the dependency image when there are dependencies."""
        try:
            plan = plan_for(runtime, files)
        except DependencyFilesInvalid as exc:
            raise InstallFailed(f"the dependencies were not installed: {exc}") from None
        if plan is None:
            return runtime
        index = self._indexes.pip if plan.kind == "python" else self._indexes.npm
        base = await self._engine.run(lambda c: dependency_images.image_id(c, runtime.image))
        if base is None:
            raise InstallFailed(f"the image {runtime.image} is not built")
        key = plan.key(base, index)
        image = f"collab-deps-{runtime.name}:{key[:40]}"
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if await self._engine.run(lambda c: dependency_images.image_id(c, image)) is None:
                await self._install(plan, runtime, index, deployment_id, image, key, send)
        if not lock.locked():
            self._locks.pop(key, None)
        return dataclasses.replace(runtime, image=image)

    async def _install(
        self,
        plan: Plan,
        runtime: Runtime,
        index: str,
        deployment_id: str,
        image: str,
        key: str,
        send: Lines,
    ) -> None:
        output = _Output(send)
        began = time.monotonic()
        limit = self._indexes.timeout
        where = _without_credentials(index)
        output.feed(f"installing {', '.join(n for n, _ in plan.files)} from {where}\n".encode())
        try:
            with tempfile.TemporaryDirectory(prefix="collab-deps-") as tmp:
                try:
                    trees = await asyncio.wait_for(
                        fetch(plan, runtime, index, Path(tmp), output.feed), limit
                    )
                except TimeoutError:
                    why = f"not done within {limit:g}s"
                    raise InstallFailed(self._reason(output, why)) from None
                except FetchFailed as exc:
                    raise InstallFailed(self._reason(output, str(exc))) from None
                job = build_job(plan, runtime, deployment_id, image, key, trees)
                loop = asyncio.get_running_loop()

                def on_output(chunk: bytes) -> None:
                    loop.call_soon_threadsafe(output.feed, chunk)

                remaining = max(limit - (time.monotonic() - began), 1.0)
                try:
                    await loop.run_in_executor(
                        self._builds,
                        lambda: dependency_images.build(
                            self._engine.client(), job, remaining, on_output, 2 * limit
                        ),
                    )
                except asyncio.CancelledError:
                    # Its deployment stopped: the build ends with it (the thread then sees
                    # its container gone).
                    with contextlib.suppress(Exception):
                        await self._engine.run(
                            lambda c: dependency_images.remove_build(c, deployment_id)
                        )
                    raise
                except dependency_images.BuildFailed as exc:
                    why = (
                        f"not done within {limit:g}s"
                        if exc.timed_out
                        else f"the installer exited with code {exc.code}"
                    )
                    raise InstallFailed(self._reason(output, why)) from None
                except Exception as exc:
                    if isinstance(exc, DockerUnavailable):
                        raise
                    raise DockerUnavailable(str(exc)) from exc
                await asyncio.sleep(0)  # let the last output callbacks run
            output.feed(f"installed in {time.monotonic() - began:.1f}s\n".encode())
        finally:
            await output.close()

    @staticmethod
    def _reason(output: _Output, why: str) -> str:
        output.settle()
        tail = " | ".join(output.last)
        return f"the dependencies could not be installed ({why}): {tail}"[:500]
