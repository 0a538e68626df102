"""The Docker Engine, through the blocking `docker` SDK, kept off the event loop.

This is the only module that imports `docker`. Every SDK call runs in the default
executor; a client is made on first use, so a Docker that is down at start-up is noticed
(and reported by /readyz) instead of stopping the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import socket
import tarfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import docker
from docker.constants import MINIMUM_DOCKER_API_VERSION
from docker.errors import DockerException, ImageNotFound, NotFound

from config.runtimes import Runtime
from containers.images import build_image

T = TypeVar("T")


class DockerUnavailable(RuntimeError):
    """The Docker Engine does not answer."""


class DockerEngine:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url
        self._timeout = timeout
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()

    def _check_socket(self) -> None:
        """docker-py leaks its socket when a unix-socket connect fails; fail first, cleanly."""
        if not self.base_url.startswith("unix://"):
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(5)
            try:
                probe.connect(self.base_url.removeprefix("unix://"))
            except OSError as exc:
                raise DockerUnavailable(f"{self.base_url}: {exc}") from exc

    def client(self) -> docker.DockerClient:
        """The SDK client (blocking): for code on its own thread; others use `run`."""
        self._check_socket()
        with self._lock:
            if self._client is None:
                # Ask the engine its API version with a client we close ourselves: the SDK's
                # own "auto" probe leaks its connection when the engine does not answer.
                probe = docker.APIClient(
                    base_url=self.base_url, version=MINIMUM_DOCKER_API_VERSION, timeout=5
                )
                try:
                    version = probe.version(api_version=False)["ApiVersion"]
                except (DockerException, OSError, KeyError) as exc:
                    raise DockerUnavailable(str(exc)) from exc
                finally:
                    probe.close()
                self._client = docker.DockerClient(
                    base_url=self.base_url, version=version, timeout=self._timeout
                )
            return self._client

    async def run(self, call: Callable[[docker.DockerClient], T]) -> T:
        """Run `call(client)` on the executor; Docker's failures become DockerUnavailable."""

        def blocking() -> T:
            try:
                return call(self.client())
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


LABEL_MANAGED = "collab.managed"
LABEL_DEPLOYMENT = "collab.deployment"


@dataclass(frozen=True)
class ContainerSpec:
    runtime: Runtime
    deployment_id: str
    host_port: int
    files: dict[str, str]


def files_archive(files: dict[str, str]) -> bytes:
    """A tar of the session's files, owned by the runtime user, for `/app`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.uid, info.gid = len(data), 0o644, 65534, 65534
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _create_and_start(client: docker.DockerClient, spec: ContainerSpec) -> str:
    runtime = spec.runtime
    labels = {LABEL_MANAGED: "true", LABEL_DEPLOYMENT: spec.deployment_id}
    volume = client.volumes.create(name=f"collab-app-{spec.deployment_id}", labels=labels)
    container = client.containers.create(
        runtime.image,
        command=list(runtime.command),
        name=f"collab-{spec.deployment_id}",
        labels=labels,
        working_dir="/app",
        user=runtime.user or None,
        environment={**runtime.env, "PORT": str(runtime.port)},
        ports={f"{runtime.port}/tcp": ("127.0.0.1", spec.host_port)},
        read_only=runtime.read_only,
        tmpfs={"/tmp": "rw,size=64m,mode=1777"},  # noqa: S108 - inside the container
        volumes={volume.name: {"bind": "/app", "mode": "rw"}},
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        mem_limit=runtime.memory_bytes,
        nano_cpus=int(runtime.cpus * 1e9),
        pids_limit=runtime.pids,
    )
    if spec.files:
        container.put_archive("/app", files_archive(spec.files))
    container.start()
    container_id: str = container.id
    return container_id


def _remove(client: docker.DockerClient, container_id: str) -> None:
    try:
        container = client.containers.get(container_id)
    except NotFound:
        return
    volumes = [m["Name"] for m in container.attrs.get("Mounts", []) if m.get("Type") == "volume"]
    container.remove(force=True)
    for name in volumes:
        with contextlib.suppress(NotFound):
            client.volumes.get(name).remove(force=True)


class Containers:
    """Deployment containers on one engine (every call off the event loop)."""

    def __init__(self, engine: DockerEngine) -> None:
        self._engine = engine

    async def ping(self) -> None:
        await self._engine.ping()

    async def build(self, runtime: Runtime) -> str:
        return await self._engine.run(lambda client: build_image(client, runtime))

    async def has_image(self, runtime: Runtime) -> bool:
        def check(client: docker.DockerClient) -> bool:
            try:
                client.images.get(runtime.image)
            except ImageNotFound:
                return False
            return True

        return await self._engine.run(check)

    async def start(self, spec: ContainerSpec) -> str:
        return await self._engine.run(lambda client: _create_and_start(client, spec))

    async def put_files(self, container_id: str, files: dict[str, str]) -> None:
        """Write files into a running container's /app (a volume, writable)."""
        archive = files_archive(files)
        await self._engine.run(
            lambda client: client.containers.get(container_id).put_archive("/app", archive)
        )

    async def remove(self, container_id: str) -> None:
        await self._engine.run(lambda client: _remove(client, container_id))

    async def inspect(self, container_id: str) -> dict[str, Any]:
        attrs: dict[str, Any] = await self._engine.run(
            lambda client: client.containers.get(container_id).attrs
        )
        return attrs

    async def managed(self) -> list[tuple[str, str, bool]]:
        """(container id, deployment id, running) of every container carrying our label."""

        def listing(client: docker.DockerClient) -> list[tuple[str, str, bool]]:
            found = client.containers.list(all=True, filters={"label": f"{LABEL_MANAGED}=true"})
            return [
                (c.id, c.labels.get(LABEL_DEPLOYMENT, ""), c.status == "running") for c in found
            ]

        return await self._engine.run(listing)

    async def state(self, container_id: str) -> dict[str, Any] | None:
        """The container's State, None when it no longer exists."""

        def read(client: docker.DockerClient) -> dict[str, Any] | None:
            try:
                state: dict[str, Any] = client.containers.get(container_id).attrs["State"]
            except NotFound:
                return None
            return state

        return await self._engine.run(read)

    async def logs(self, container_id: str, tail: int) -> str:
        def read(client: docker.DockerClient) -> bytes:
            try:
                logs: bytes = client.containers.get(container_id).logs(tail=tail)
            except NotFound:
                return b""  # the container is gone with its logs
            return logs

        raw = await self._engine.run(read)
        return raw.decode(errors="replace")
