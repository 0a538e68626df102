"""The seam between deployment decisions and whatever runs deployments.

`DeploymentEngine` is everything the lifecycle, the reaper, live files and the log followers
ask of an engine; they know nothing else of it. Today's implementations: plain Docker
(`containers.engine.Containers`, a container per deployment on one dockerd) and Docker
Swarm (`containers.swarm.SwarmDeployments`, a service per deployment). A Kubernetes engine
would be a third class with these methods (docs/deployments-swarm.md).

A deployment's *handle* (stored as `deployments.container_id`) is the engine's own id for
what runs it: a container id on Docker, a service id on Swarm. Every method that takes a
`container_id` takes that handle.

Every object an engine makes carries the labels `collab.managed=true`,
`collab.deployment=<id>` and `collab.cluster=<cluster>`; `managed()` and `networks()` answer
only this cluster's, so a server process reconciles only what it (or its siblings sharing
its database and engine) started.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from config.runtimes import Runtime
from containers.terminal import ShellHandle


class DockerUnavailable(RuntimeError):
    """The engine does not answer (or refused what it was asked)."""


@dataclass(frozen=True)
class ContainerSpec:
    runtime: Runtime
    deployment_id: str
    files: dict[str, str]
    environment: dict[str, str] = field(default_factory=dict)
    secret_names: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Started:
    # The deployment's handle (a container id, or a service id on Swarm).
    container_id: str
    # Where the server dials the app (an address on the deployment's own network).
    address: str


# One reading of a deployment's usage (`GET /api/deployments/{id}/stats`).
Stats = dict[str, float | int]


class DeploymentEngine(Protocol):
    """What runs deployments: every coroutine runs its blocking work off the event loop."""

    # "docker" or "swarm": recorded on each deployment row (`deployments.engine`).
    name: str

    async def cluster(self) -> str:
        """The cluster this process reconciles: recorded on rows, labelled on objects."""
        ...

    async def ping(self) -> None: ...

    async def build(self, runtime: Runtime) -> str:
        """Build the runtime's image; its id."""
        ...

    async def has_image(self, runtime: Runtime) -> bool: ...

    async def start(self, spec: ContainerSpec) -> Started:
        """Network, firewall rules, volume and the app itself, started (not yet answering)."""
        ...

    async def put_files(self, container_id: str, files: dict[str, str]) -> None:
        """Write files into a running deployment's /app."""
        ...

    async def remove(self, container_id: str) -> None:
        """The deployment a handle names, with everything it had."""
        ...

    async def remove_deployment(self, deployment_id: str) -> None:
        """Whatever of a deployment exists (also one whose start failed half way)."""
        ...

    async def managed(self) -> list[tuple[str, str, bool]]:
        """(handle, deployment id, running) of this cluster's deployments on the engine."""
        ...

    async def networks(self) -> list[tuple[str, str]]:
        """(network name, deployment id) of this cluster's deployment networks."""
        ...

    async def forget_rules(self) -> int:
        """Delete host firewall rules whose network is gone (of any cluster); how many."""
        ...

    async def state(self, container_id: str) -> dict[str, Any] | None:
        """Docker's `State` shape ({"Running": bool, "ExitCode": int, ...}); None when gone."""
        ...

    async def logs(self, container_id: str, tail: int | str) -> str:
        """The last `tail` lines ("all": everything kept) of its output."""
        ...

    def log_records(
        self, container_id: str, after_ns: int
    ) -> tuple[list[str], Iterator[tuple[int | None, bytes]]]:
        """BLOCKING, for a thread of its own: the secret values to mask with, and its log
        records stamped after `after_ns` (engine time, ns since the epoch), following until
        the stream ends, as (the engine's timestamp or None, the record)."""
        ...

    async def secret_values(self, container_id: str) -> list[str]:
        """The values of its secret variables, to mask its output with."""
        ...

    async def stats(self, container_id: str) -> Stats | None:
        """One reading of its usage; None when it no longer exists."""
        ...

    def open_shell(self, container_id: str, marker: str, cols: int, rows: int) -> ShellHandle:
        """BLOCKING: `/bin/sh` on a TTY in the running deployment, as its unprivileged user,
        carrying `marker` (`containers.terminal`); ShellRefused when it can have none."""
        ...
