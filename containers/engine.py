"""The plain-Docker deployment engine: a container per deployment on one dockerd.

`DockerEngine` holds the blocking `docker` SDK client and keeps its calls off the event loop
(the Swarm engine uses it too); `Containers` implements `engine_seam.DeploymentEngine` with
it. Every SDK call runs in the default executor; a client is made on first use, so a
Docker that is down at start-up is noticed (and reported by /readyz) instead of stopping the
server.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import enum
import functools
import hashlib
import io
import ipaddress
import os
import random
import socket
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import docker
from docker.constants import MINIMUM_DOCKER_API_VERSION
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.transport.unixconn import (
    UnixHTTPAdapter,
    UnixHTTPConnection,
    UnixHTTPConnectionPool,
)
from docker.types import CancellableStream, IPAMConfig, IPAMPool, LogConfig

from config import Settings
from config.runtimes import Runtime
from containers import host_firewall
from containers.engine_seam import ContainerSpec, DockerUnavailable, Started, Stats
from containers.images import build_image
from containers.terminal import DockerShell, ShellHandle

__all__ = [
    "ContainerSpec",
    "Containers",
    "DockerEngine",
    "DockerUnavailable",
    "Egress",
    "Isolation",
    "Started",
]

T = TypeVar("T")


class _UnixConnection(UnixHTTPConnection):  # type: ignore[misc]  # the SDK is untyped
    """The SDK's connection, closing its socket when the connect fails: the SDK's leaves
    it to the garbage collector. `DockerEngine.client` checks the socket first, but an
    engine that is stopping may accept that check and refuse the next connect."""

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.unix_socket)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class _UnixPool(UnixHTTPConnectionPool):  # type: ignore[misc]
    def _new_conn(self) -> _UnixConnection:
        return _UnixConnection(self.base_url, self.socket_path, self.timeout)


class _OnePool(UnixHTTPAdapter):  # type: ignore[misc]  # the SDK is untyped
    """The SDK's unix-socket adapter with one connection pool. The SDK keys its pools by
    URL (up to 25, each keeping its idle socket), so every container's own URLs (inspect,
    start, logs, archive...) left a socket open to dockerd: a few per deploy (issue #15).
    Every URL leads to the same socket; one pool of `max_pool_size` serves them all."""

    def get_connection(self, url: str, proxies: Any = None) -> Any:
        url = "http+docker://localhost"
        with self.pools.lock:
            pool = self.pools.get(url)
            if pool is None:
                pool = _UnixPool(url, self.socket_path, self.timeout, maxsize=self.max_pool_size)
                self.pools[url] = pool
        return pool


def _one_pool(client: docker.DockerClient) -> docker.DockerClient:
    """`client` talking to a unix socket through one pool (`_OnePool`)."""
    api = client.api
    if isinstance(getattr(api, "_custom_adapter", None), UnixHTTPAdapter):
        old = api._custom_adapter
        adapter = _OnePool(f"http+unix://{old.socket_path}", old.timeout, 1, old.max_pool_size)
        api._custom_adapter = adapter
        api.mount("http+docker://", adapter)
        old.close()
    return client


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
                self._client = _one_pool(
                    docker.DockerClient(
                        base_url=self.base_url, version=version, timeout=self._timeout
                    )
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
# Which cluster's reconciler owns it (`DeploymentEngine.cluster`).
LABEL_CLUSTER = "collab.cluster"
# The names (never the values) of a container's secret variables: what its output is masked
# for, also after a restart of the server.
LABEL_SECRETS = "collab.secrets"
NETWORK_PREFIX = "collab-net-"
# Docker's json-file driver keeps at most this much of a container's output on the host;
# the last `keep` bytes of it outlive the container (`Containers.output`).
LOG_CONFIG = LogConfig(type="json-file", config={"max-size": "1m", "max-file": "2"})


class Egress(enum.StrEnum):
    NONE = "none"
    INTERNET = "internet"


@dataclass(frozen=True)
class Isolation:
    """How deployments are kept apart: each on its own bridge network, cut from `pool`."""

    egress: Egress
    pool: ipaddress.IPv4Network
    prefix: int = 28

    @classmethod
    def from_settings(cls, settings: Settings) -> Isolation:
        return cls(Egress(settings.deploy_egress), settings.deploy_subnet_pool)


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


def bridge_name(deployment_id: str) -> str:
    """The host interface of a deployment's network (at most 15 characters)."""
    return "cb-" + deployment_id.replace("-", "")[:12]


def _used_subnets(client: docker.DockerClient) -> set[ipaddress.IPv4Network]:
    used = set()
    for network in client.networks.list():
        for config in (network.attrs.get("IPAM") or {}).get("Config") or []:
            with contextlib.suppress(KeyError, ValueError):
                subnet = ipaddress.ip_network(config["Subnet"])
                if isinstance(subnet, ipaddress.IPv4Network):
                    used.add(subnet)
    return used


def cluster_id(engine_kind: str, engine_id: str, scope: str) -> str:
    """The default cluster: this engine (a daemon, or a swarm) with this database (`scope`),
    so neither another host's dockerd nor another database's server takes it as its own."""
    digest = hashlib.sha256(engine_id.encode()).hexdigest()[:12]
    return f"{engine_kind}-{digest}-{scope[:8]}" if scope else f"{engine_kind}-{digest}"


def daemon_id(client: docker.DockerClient) -> str:
    info: dict[str, Any] = client.info()
    return str(info["ID"])


def _create_network(
    client: docker.DockerClient, spec: ContainerSpec, isolation: Isolation, cluster: str
) -> str:
    """The deployment's own bridge, on a free subnet of the pool; its name."""
    name = NETWORK_PREFIX + spec.deployment_id
    internet = isolation.egress is Egress.INTERNET
    subnets = list(isolation.pool.subnets(new_prefix=isolation.prefix))
    start = random.randrange(len(subnets))  # noqa: S311 - spreading, not secrecy
    used = _used_subnets(client)
    for subnet in subnets[start:] + subnets[:start]:
        if any(subnet.overlaps(other) for other in used):
            continue
        ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=str(subnet), gateway=str(subnet[1]))])
        try:
            client.networks.create(
                name,
                driver="bridge",
                internal=not internet,
                labels={
                    LABEL_MANAGED: "true",
                    LABEL_DEPLOYMENT: spec.deployment_id,
                    LABEL_CLUSTER: cluster,
                },
                ipam=ipam,
                check_duplicate=True,
                options={
                    "com.docker.network.bridge.name": bridge_name(spec.deployment_id),
                    "com.docker.network.bridge.enable_icc": "false",
                    "com.docker.network.bridge.enable_ip_masquerade": str(internet).lower(),
                },
            )
        except APIError as exc:
            if "overlap" in str(exc).lower():
                used.add(subnet)  # another process took it since we listed
                continue
            raise
        return name
    raise DockerUnavailable(f"no free /{isolation.prefix} left in {isolation.pool}")


def _create_and_start(
    client: docker.DockerClient, spec: ContainerSpec, isolation: Isolation, cluster: str
) -> Started:
    runtime = spec.runtime
    labels = {
        LABEL_MANAGED: "true",
        LABEL_DEPLOYMENT: spec.deployment_id,
        LABEL_CLUSTER: cluster,
        LABEL_SECRETS: ",".join(sorted(spec.secret_names)),
    }
    bridge = bridge_name(spec.deployment_id)
    network = _create_network(client, spec, isolation, cluster)
    try:
        host_firewall.guard(bridge, internet=isolation.egress is Egress.INTERNET)
        volume = client.volumes.create(name=f"collab-app-{spec.deployment_id}", labels=labels)
        container = client.containers.create(
            runtime.image,
            command=list(runtime.command),
            name=f"collab-{spec.deployment_id}",
            labels=labels,
            working_dir="/app",
            user=runtime.user or None,
            # The session's variables, then the runtime's own, which they cannot override.
            environment={**spec.environment, **runtime.env, "PORT": str(runtime.port)},
            network=network,
            read_only=runtime.read_only,
            tmpfs={"/tmp": "rw,size=64m,mode=1777"},  # noqa: S108 - inside the container
            volumes={volume.name: {"bind": "/app", "mode": "rw"}},
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            mem_limit=runtime.memory_bytes,
            nano_cpus=int(runtime.cpus * 1e9),
            pids_limit=runtime.pids,
            log_config=LOG_CONFIG,
        )
        if spec.files:
            container.put_archive("/app", files_archive(spec.files))
        container.start()
        container.reload()
        if isolation.egress is Egress.NONE:
            # Until this returns the app may already run; the firewall and the internal
            # network already drop anything it sends off its bridge.
            try:
                host_firewall.drop_default_route(int(container.attrs["State"]["Pid"]))
            except host_firewall.FirewallError:
                # Its process is gone (Docker may not have noticed yet): it exited.
                if os.path.exists(f"/proc/{container.attrs['State']['Pid']}"):
                    raise
                # It exited already (a crashing app): nothing to isolate, and the lifecycle
                # reports its exit code and last lines.
        networks = container.attrs["NetworkSettings"]["Networks"] or {}
        address = (networks.get(network) or {}).get("IPAddress", "")
    except BaseException as exc:
        with contextlib.suppress(Exception):
            _remove_deployment(client, spec.deployment_id)
        if isinstance(exc, host_firewall.FirewallError):
            raise DockerUnavailable(f"the deployment could not be isolated: {exc}") from exc
        raise
    return Started(container.id, address)


def _remove_deployment(client: docker.DockerClient, deployment_id: str) -> None:
    """Remove a deployment's container, volume, network and firewall rules, whichever exist."""
    with contextlib.suppress(NotFound):
        client.containers.get(f"collab-{deployment_id}").remove(force=True)
    with contextlib.suppress(NotFound):
        client.volumes.get(f"collab-app-{deployment_id}").remove(force=True)
    with contextlib.suppress(NotFound):
        client.networks.get(NETWORK_PREFIX + deployment_id).remove()
    try:
        host_firewall.release(bridge_name(deployment_id))
    except host_firewall.FirewallError as exc:
        raise DockerUnavailable(f"the deployment's firewall rules stay: {exc}") from exc


def _remove(client: docker.DockerClient, container_id: str) -> None:
    try:
        container = client.containers.get(container_id)
    except NotFound:
        return
    deployment_id = container.labels.get(LABEL_DEPLOYMENT, "")
    volumes = [m["Name"] for m in container.attrs.get("Mounts", []) if m.get("Type") == "volume"]
    container.remove(force=True)
    for name in volumes:
        with contextlib.suppress(NotFound):
            client.volumes.get(name).remove(force=True)
    if deployment_id:
        _remove_deployment(client, deployment_id)


def secret_values_of(attrs: dict[str, Any]) -> list[str]:
    """The values of a container's secret variables (its label names them)."""
    config = attrs.get("Config") or {}
    names = set(filter(None, (config.get("Labels") or {}).get(LABEL_SECRETS, "").split(",")))
    values = []
    for entry in config.get("Env") or []:
        name, _, value = entry.partition("=")
        if name in names:
            values.append(value)
    return values


def _stats(raw: dict[str, Any]) -> Stats:
    """Docker's stats document, read as the numbers a person wants (like `docker stats`)."""
    cpu, pre = raw.get("cpu_stats") or {}, raw.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (
        pre.get("cpu_usage") or {}
    ).get("total_usage", 0)
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cpus = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or [1])
    percent = cpu_delta / system_delta * cpus * 100.0 if cpu_delta > 0 and system_delta > 0 else 0.0
    memory = raw.get("memory_stats") or {}
    detail = memory.get("stats") or {}
    # Page cache is not the app's memory: cgroup v1 reports it as `cache`, v2 as
    # `inactive_file`.
    cache = detail.get("total_inactive_file", detail.get("inactive_file", detail.get("cache", 0)))
    networks = (raw.get("networks") or {}).values()
    return {
        "cpu_percent": round(percent, 2),
        "memory_bytes": max(int(memory.get("usage", 0)) - int(cache), 0),
        "memory_limit_bytes": int(memory.get("limit", 0)),
        "network_rx_bytes": sum(int(n.get("rx_bytes", 0)) for n in networks),
        "network_tx_bytes": sum(int(n.get("tx_bytes", 0)) for n in networks),
    }


DEFAULT_ISOLATION = Isolation(Egress.NONE, ipaddress.IPv4Network("172.30.0.0/16"))


class Containers:
    """Deployment containers on one dockerd (`DeploymentEngine`; every call off the loop)."""

    name = "docker"

    def __init__(
        self,
        engine: DockerEngine,
        isolation: Isolation = DEFAULT_ISOLATION,
        cluster: str | None = None,
        scope: str = "",
    ) -> None:
        """`cluster`: COLLAB_DEPLOY_CLUSTER, or None for the daemon's id with `scope` (the
        database's identity)."""
        self._engine = engine
        self._isolation = isolation
        self._cluster = cluster
        self._scope = scope

    async def cluster(self) -> str:
        if self._cluster is None:
            engine_id = await self._engine.run(daemon_id)
            self._cluster = cluster_id(self.name, engine_id, self._scope)
        return self._cluster

    def _own(self, cluster: str) -> dict[str, list[str]]:
        """The SDK's filter for this cluster's objects."""
        return {"label": [f"{LABEL_MANAGED}=true", f"{LABEL_CLUSTER}={cluster}"]}

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

    async def start(self, spec: ContainerSpec) -> Started:
        """Create the deployment's network, firewall rules, volume and container; start it."""
        cluster = await self.cluster()
        return await self._engine.run(
            lambda client: _create_and_start(client, spec, self._isolation, cluster)
        )

    async def put_files(self, container_id: str, files: dict[str, str]) -> None:
        """Write files into a running container's /app (a volume, writable)."""
        archive = files_archive(files)
        await self._engine.run(
            lambda client: client.containers.get(container_id).put_archive("/app", archive)
        )

    async def remove(self, container_id: str) -> None:
        """The container with its volume, network and firewall rules."""
        await self._engine.run(lambda client: _remove(client, container_id))

    async def remove_deployment(self, deployment_id: str) -> None:
        """Whatever of a deployment exists (a start that failed before it had a container)."""
        await self._engine.run(lambda client: _remove_deployment(client, deployment_id))

    async def networks(self) -> list[tuple[str, str]]:
        """(network name, deployment id) of this cluster's deployment networks."""
        own = self._own(await self.cluster())

        def listing(client: docker.DockerClient) -> list[tuple[str, str]]:
            found = client.networks.list(filters=own)
            return [
                (n.name, (n.attrs.get("Labels") or {}).get(LABEL_DEPLOYMENT, "")) for n in found
            ]

        return await self._engine.run(listing)

    async def forget_rules(self) -> int:
        """Delete firewall rules whose deployment network is gone; how many. Every
        cluster's networks count: the rules are the host's, shared by all on it."""

        def forget(client: docker.DockerClient) -> int:
            found = client.networks.list(filters={"label": f"{LABEL_MANAGED}=true"})
            bridges = {
                bridge_name((n.attrs.get("Labels") or {}).get(LABEL_DEPLOYMENT, "")) for n in found
            }
            try:
                return host_firewall.forget(lambda bridge: bridge not in bridges)
            except host_firewall.FirewallError as exc:
                raise DockerUnavailable(str(exc)) from exc

        return await self._engine.run(forget)

    def open_shell(self, container_id: str, marker: str, cols: int, rows: int) -> ShellHandle:
        try:
            return DockerShell.open(self._engine.client(), container_id, marker, cols, rows)
        except DockerException as exc:
            raise DockerUnavailable(str(exc)) from exc

    async def stats(self, container_id: str) -> Stats | None:
        """One reading of the container's usage (about a second: CPU needs two samples);
        None when it no longer exists."""

        def read(client: docker.DockerClient) -> dict[str, Any] | None:
            try:
                raw: dict[str, Any] = client.containers.get(container_id).stats(stream=False)
            except NotFound:
                return None
            return raw

        raw = await self._engine.run(read)
        return None if raw is None else _stats(raw)

    async def secret_values(self, container_id: str) -> list[str]:
        """The values of the container's secret variables (named by its label), to mask its
        output with, also for a container started before this process."""

        def read(client: docker.DockerClient) -> list[str]:
            try:
                return secret_values_of(client.containers.get(container_id).attrs)
            except NotFound:
                return []

        return await self._engine.run(read)

    async def inspect(self, container_id: str) -> dict[str, Any]:
        attrs: dict[str, Any] = await self._engine.run(
            lambda client: client.containers.get(container_id).attrs
        )
        return attrs

    async def managed(self) -> list[tuple[str, str, bool]]:
        """(container id, deployment id, running) of this cluster's containers."""
        own = self._own(await self.cluster())

        def listing(client: docker.DockerClient) -> list[tuple[str, str, bool]]:
            found = client.containers.list(all=True, filters=own)
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

    async def logs(self, container_id: str, tail: int | str) -> str:
        """The last `tail` lines ("all": everything the engine kept) of its output."""

        def read(client: docker.DockerClient) -> bytes:
            try:
                logs: bytes = client.containers.get(container_id).logs(tail=tail)
            except NotFound:
                return b""  # the container is gone with its logs
            return logs

        raw = await self._engine.run(read)
        return raw.decode(errors="replace")

    def log_records(
        self, container_id: str, after_ns: int
    ) -> tuple[list[str], Iterator[tuple[int | None, bytes]]]:
        """BLOCKING, for a thread of its own: the secret values to mask with, and its log
        records stamped after `after_ns` (engine time, ns since the epoch), following until
        the stream ends: (the engine's timestamp, the record), a record being one write of
        the app's, a line as a rule. A follower that resumes with the last stamp it read
        gets every later record once (`containers.logs`)."""
        try:
            container = self._engine.client().containers.get(container_id)
            # The engine's `since` is inclusive and whole seconds here: a second's records
            # come again, and are skipped by their stamp below.
            since = after_ns // 1_000_000_000
            stream: CancellableStream = container.logs(
                stream=True, follow=True, timestamps=True, since=since if since > 0 else None
            )
        except DockerException as exc:
            raise DockerUnavailable(str(exc)) from exc
        return secret_values_of(container.attrs), _after(_unavailable_on_error(stream), after_ns)


def _after(frames: Iterator[bytes], after_ns: int) -> Iterator[tuple[int | None, bytes]]:
    """Stamped frames ("2026-11-26T12:53:11.123456789Z data") as (ns, data), those
    stamped at or before `after_ns` skipped. A frame without a readable stamp is kept,
    unstamped."""
    for frame in frames:
        stamp, _, data = frame.partition(b" ")
        at = _nanoseconds(stamp)
        if at is None:
            yield None, frame
        elif at > after_ns:
            yield at, data


def _nanoseconds(stamp: bytes) -> int | None:
    """RFC 3339 with nanoseconds, in UTC, as the engine stamps log records."""
    try:
        whole, _, fraction = stamp.decode("ascii").removesuffix("Z").partition(".")
        seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
        return seconds * 1_000_000_000 + int(fraction[:9].ljust(9, "0"))
    except ValueError:
        return None


def _unavailable_on_error(stream: CancellableStream) -> Iterator[bytes]:
    """The SDK's stream, its failures as DockerUnavailable (the seam's one error), its
    socket closed when it ends: the SDK ties the socket and its response in a cycle, so
    left alone it stays open until the garbage collector's next full pass."""
    try:
        yield from stream
    except DockerException as exc:
        raise DockerUnavailable(str(exc)) from exc
    finally:
        with contextlib.suppress(Exception):  # closing what the engine already ended
            stream.close()
        # When the engine ended it (stopping, restarted), the SDK's close does nothing (the
        # response reads as closed) while the connection still holds its socket.
        with contextlib.suppress(Exception):
            stream._response.raw.close()
