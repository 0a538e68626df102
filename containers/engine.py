"""The Docker Engine, through the blocking `docker` SDK, kept off the event loop.

This is the only module that imports `docker`. Every SDK call runs in the default
executor; a client is made on first use, so a Docker that is down at start-up is noticed
(and reported by /readyz) instead of stopping the server.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import docker
from docker.errors import DockerException

T = TypeVar("T")


class DockerUnavailable(RuntimeError):
    """The Docker Engine does not answer."""


class DockerEngine:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url
        self._timeout = timeout
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()

    def _get_client(self) -> docker.DockerClient:
        with self._lock:
            if self._client is None:
                try:
                    self._client = docker.DockerClient(
                        base_url=self.base_url, timeout=self._timeout
                    )
                except DockerException as exc:
                    raise DockerUnavailable(str(exc)) from exc
            return self._client

    async def run(self, call: Callable[[docker.DockerClient], T]) -> T:
        """Run `call(client)` on the executor; Docker's failures become DockerUnavailable."""

        def blocking() -> T:
            try:
                return call(self._get_client())
            except DockerException as exc:
                raise DockerUnavailable(str(exc)) from exc

        return await asyncio.get_running_loop().run_in_executor(None, functools.partial(blocking))

    async def ping(self) -> bool:
        result: Any = await self.run(lambda client: client.ping())
        return bool(result)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
