"""Deployment decisions: start a session's code in a container, stop it, archive it.

Status moves starting → running → stopping → stopped, or to failed with a reason (image
missing, app exited, app did not answer on its port in time). "running" means the app
really answered HTTP on its port. Every change is pushed to the session's sockets as
`deployment:status` and audited; a stopped or failed deployment is archived in
`past_deployments` with how long it ran and why it stopped. The Docker SDK runs off the
event loop (`containers.engine`); the start itself runs as an owned background task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import asyncpg

from config import Settings
from config.runtimes import Runtime
from containers.dependency_files import InstallFailed
from containers.engine_seam import ContainerSpec, DeploymentEngine, DockerUnavailable
from containers.environment import NO_SECRETS, DeployEnvironment, Masker
from containers.logs import LogFollowers
from containers.store import DeploymentStore, Status
from kernel import metrics
from kernel.audit import AuditEntry, AuditLog
from kernel.background import BackgroundTasks
from kernel.context import Actor
from kernel.errors import Conflict, NotFound, RateLimited, Unavailable, ValidationFailed

if TYPE_CHECKING:
    from containers.dependencies import DependencyInstaller

log = logging.getLogger(__name__)

# How often an install asks whether its deployment was stopped meanwhile.
INSTALL_CHECK_SECONDS = 1.0


# What the lifecycle needs to know of a session, asked through the session service.
SessionFiles = Callable[[uuid.UUID], Awaitable[dict[str, str]]]
# Adds to a workspace document's analytics counters.
WorkspaceCounter = Callable[[uuid.UUID, dict[str, int]], Awaitable[None]]
Announce = Callable[[uuid.UUID, str, dict[str, Any]], Awaitable[None]]
# A deployment's preview URL, on its own origin (`Settings.preview_url`).
PreviewUrl = Callable[[str], str]
# A session's environment for its deployment (workspace's and session's variables, secrets
# opened): asked only as its container is about to start.
EnvironmentOf = Callable[[asyncpg.Record], Awaitable[DeployEnvironment]]
# The workspace a session's files belong to (None: a personal session), for its audit log.
WorkspaceOf = Callable[[uuid.UUID], Awaitable[uuid.UUID | None]]


async def _no_environment(_: asyncpg.Record) -> DeployEnvironment:
    return DeployEnvironment({}, frozenset())


async def _no_workspace(_: uuid.UUID) -> uuid.UUID | None:
    return None


@dataclass(frozen=True)
class Limits:
    start_timeout: float
    per_user: int
    per_session: int
    # The last bytes of a deployment's output that are kept when it stops.
    keep_bytes: int = 256 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            settings.deploy_start_timeout_seconds,
            settings.deploy_max_per_user,
            settings.deploy_max_per_session,
            settings.deploy_log_keep_bytes,
        )


def last_bytes(text: str, keep: int) -> str:
    """The end of `text`, at most `keep` bytes of UTF-8, starting at a line when it can."""
    data = text.encode()
    if len(data) <= keep:
        return text
    tail = data[-keep:].decode(errors="ignore")
    newline = tail.find("\n")
    return tail[newline + 1 :] if 0 <= newline < len(tail) - 1 else tail


def deployment_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "deployment_id": str(row["deployment_id"]),
        "session_id": str(row["session_id"]),
        "status": row["status"],
        "deployment_url": row["deployment_url"],
        "runtime": row["runtime"],
        "public": row["public"],
        "reason": row["reason"],
        "created_at": row["created_at"].isoformat(),
        "started_at": row["started_at"].isoformat() if row["started_at"] else None,
        "stopped_at": row["stopped_at"].isoformat() if row["stopped_at"] else None,
    }


class Deployments:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: DeploymentStore,
        containers: DeploymentEngine | None,
        runtimes: dict[str, Runtime],
        limits: Limits,
        preview_url: PreviewUrl,
        session_files: SessionFiles,
        announce: Announce,
        audit: AuditLog,
        tasks: BackgroundTasks,
        logs: LogFollowers | None = None,
        count_for_workspace: WorkspaceCounter | None = None,
        environment_of: EnvironmentOf = _no_environment,
        dependencies: DependencyInstaller | None = None,
        workspace_of: WorkspaceOf = _no_workspace,
    ) -> None:
        self._pool = pool
        self._store = store
        self._containers = containers
        self._runtimes = runtimes
        self._limits = limits
        self._preview_url = preview_url
        self._session_files = session_files
        self._announce = announce
        self._audit = audit
        self._tasks = tasks
        self._logs = logs
        self._count_for_workspace = count_for_workspace
        self._environment_of = environment_of
        self._dependencies = dependencies
        self._workspace_of = workspace_of

    def url_of(self, deployment_id: uuid.UUID) -> str:
        return self._preview_url(str(deployment_id))

    def runtime_for(self, language: str, framework: str | None) -> Runtime:
        for name in (f"{language}-{framework}" if framework else None, language):
            if name and name in self._runtimes:
                return self._runtimes[name]
        raise ValidationFailed(
            {
                "language": f"no runtime for {language!r}; available: "
                f"{', '.join(sorted(self._runtimes))}"
            }
        )

    # -- starting ---------------------------------------------------------------------------

    async def deploy(self, actor: Actor, session: asyncpg.Record, public: bool) -> dict[str, Any]:
        if self._containers is None:
            raise Unavailable("Deployments need a Docker Engine: set COLLAB_DOCKER_HOST.")
        runtime = self.runtime_for(session["language"], session["framework"])
        try:
            await self._containers.ping()
        except DockerUnavailable:
            raise Unavailable("The Docker Engine does not answer.") from None
        deployment_id = uuid.uuid4()
        row = await self._reserve(actor, session["session_id"], deployment_id, runtime, public)
        await self._audit.record(
            self._pool,
            AuditEntry(
                "deployment.started",
                actor.user_id,
                session["ws_id"],
                "deployment",
                str(deployment_id),
                new_value={"runtime": runtime.name, "public": public},
            ),
            actor.client,
        )
        await self._status(row["session_id"], deployment_id, Status.STARTING)
        if session["ws_id"] is not None and self._count_for_workspace is not None:
            await self._count_for_workspace(session["ws_id"], {"deployments": 1})
        self._tasks.spawn(self._start(row, runtime, session), f"deploy:{deployment_id}")
        return {
            "deployment_id": str(deployment_id),
            "status": Status.STARTING.value,
            "deployment_url": self.url_of(deployment_id),
        }

    async def _reserve(
        self,
        actor: Actor,
        session_id: uuid.UUID,
        deployment_id: uuid.UUID,
        runtime: Runtime,
        public: bool,
    ) -> asyncpg.Record:
        """Insert the row, within the quotas, as the engine's cluster's."""
        assert self._containers is not None
        try:
            cluster = await self._containers.cluster()
        except DockerUnavailable:
            raise Unavailable("The Docker Engine does not answer.") from None
        async with self._pool.acquire() as conn, conn.transaction():
            await self._store.lock_reservations(conn)
            mine, here = await self._store.live_counts(conn, actor.user_id, session_id)
            if mine >= self._limits.per_user:
                raise RateLimited(60)
            if here >= self._limits.per_session:
                raise RateLimited(60)
            return await self._store.insert_starting(
                conn,
                deployment_id=deployment_id,
                session_id=session_id,
                url=self.url_of(deployment_id),
                port=runtime.port,
                owner_id=actor.user_id,
                runtime=runtime.name,
                public=public,
                engine=self._containers.name,
                cluster=cluster,
            )

    async def _start(self, row: asyncpg.Record, runtime: Runtime, session: asyncpg.Record) -> None:
        assert self._containers is not None
        deployment_id = row["deployment_id"]
        began = time.monotonic()
        masker = NO_SECRETS
        try:
            if not await self._containers.has_image(runtime):
                await self.finish(
                    deployment_id,
                    Status.FAILED,
                    f"the image {runtime.image} is not built: run "
                    "`collab runtimes build` (or name a registry image)",
                )
                return
            files = await self._session_files(row["session_id"])
            if self._dependencies is not None:
                installed = await self._install_dependencies(row, runtime, files)
                if installed is None:
                    return
                runtime = installed
            try:
                environment = await self._environment_of(session)
            except Exception as exc:  # a secret that no longer opens, a too large environment
                log.warning("the environment of %s could not be read: %r", deployment_id, exc)
                await self.finish(
                    deployment_id,
                    Status.FAILED,
                    "the environment could not be prepared: "
                    + (str(exc) if isinstance(exc, ValueError) else type(exc).__name__),
                )
                return
            masker = Masker(environment.secret_values)
            started = await self._containers.start(
                ContainerSpec(
                    runtime,
                    str(deployment_id),
                    files,
                    environment.variables,
                    environment.secret_names,
                )
            )
            del environment  # the secrets now live in the container alone
            await self._store.set_container(
                self._pool, deployment_id, started.container_id, started.address
            )
            now = await self._store.get(self._pool, deployment_id)
            if now is None or now["status"] != Status.STARTING:
                # Stopped while its container was being made: the stop removed what existed
                # then, and archived it; what was made since is removed here. A stop from now
                # on finds the container (its id is recorded) and removes it itself.
                await self._containers.remove_deployment(str(deployment_id))
                return
            self.follow_logs(row["session_id"], deployment_id, started.container_id)
            reason = await self._wait_until_answering(
                started.container_id, started.address, runtime.port, masker
            )
        except DockerUnavailable as exc:
            reason = f"the Docker Engine failed: {exc}"[:500]
        if reason is None:
            # Not when it was stopped meanwhile: its sockets were told so already.
            if await self._store.mark_running(self._pool, deployment_id):
                metrics.deployment_started(time.monotonic() - began)
                await self._status(row["session_id"], deployment_id, Status.RUNNING)
        else:
            await self.finish(deployment_id, Status.FAILED, masker(reason))

    async def _install_dependencies(
        self, row: asyncpg.Record, runtime: Runtime, files: dict[str, str]
    ) -> Runtime | None:
        """The runtime on an image with the session's dependencies installed (the runtime
        itself without any; `containers.dependencies`), None when the deployment ended:
        the install failed, or it was stopped meanwhile."""
        assert self._dependencies is not None
        deployment_id = row["deployment_id"]

        async def send(lines: list[str]) -> None:
            await self._announce(
                row["session_id"],
                "deployment:log",
                {"deployment_id": str(deployment_id), "lines": lines},
            )

        install = asyncio.ensure_future(
            self._dependencies.image_for(runtime, files, str(deployment_id), send)
        )
        try:
            # A stop (by any process) frees the quota at once: the install ends with it,
            # rather than going on for up to its time limit.
            while not (await asyncio.wait({install}, timeout=INSTALL_CHECK_SECONDS))[0]:
                if not await self._still_starting(deployment_id):
                    install.cancel()
                    with contextlib.suppress(asyncio.CancelledError, InstallFailed):
                        await install
                    return None
            installed = install.result()
        except InstallFailed as exc:
            await self.finish(deployment_id, Status.FAILED, str(exc))
            return None
        finally:
            if not install.done():  # this task itself was cancelled
                install.cancel()
        return installed if await self._still_starting(deployment_id) else None

    async def _still_starting(self, deployment_id: uuid.UUID) -> bool:
        now = await self._store.get(self._pool, deployment_id)
        return now is not None and now["status"] == Status.STARTING

    async def _wait_until_answering(
        self, container_id: str, address: str, port: int, masker: Masker
    ) -> str | None:
        """None once the app answers HTTP; otherwise why it never will (masked)."""
        assert self._containers is not None
        deadline = asyncio.get_running_loop().time() + self._limits.start_timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while asyncio.get_running_loop().time() < deadline:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(f"http://{address}:{port}/"):
                        return None
                state = await self._containers.state(container_id)
                if not state or not state.get("Running"):
                    logs = masker((await self._containers.logs(container_id, 5)).strip())
                    code = state.get("ExitCode") if state else "unknown"
                    return f"the app exited with code {code}: {logs}"[:500]
                await asyncio.sleep(0.2)
        return f"the app did not answer on port {port} within {self._limits.start_timeout:g}s"

    # -- stopping and archiving --------------------------------------------------------------

    async def stop(self, actor: Actor | None, deployment_id: uuid.UUID, reason: str) -> None:
        await self.finish(deployment_id, Status.STOPPED, reason, actor)

    def follow_logs(
        self, session_id: uuid.UUID, deployment_id: uuid.UUID, container_id: str
    ) -> None:
        if self._logs is not None:
            self._logs.follow(session_id, deployment_id, container_id)

    async def stop_session(self, session_id: uuid.UUID) -> None:
        """The session was archived: its deployments stop."""
        for deployment_id in await self._store.stoppable_of_session(self._pool, session_id):
            await self.stop(None, deployment_id, "session archived")

    async def stop_owned_by(self, user_id: uuid.UUID) -> None:
        """Their account is being deleted: every deployment they started stops."""
        for deployment_id in await self._store.stoppable_of_owner(self._pool, user_id):
            await self.stop(None, deployment_id, "account deleted")

    async def finish(
        self, deployment_id: uuid.UUID, status: Status, reason: str, actor: Actor | None = None
    ) -> None:
        """Stop (or fail) a deployment: remove its container, archive it. Idempotent."""
        row = await self._store.begin_stopping(self._pool, deployment_id, reason)
        if row is None:
            return
        await self._status(row["session_id"], deployment_id, Status.STOPPING)
        if self._containers is not None:
            try:
                if row["container_id"]:
                    await self._keep_output(deployment_id, row["container_id"])
                # Its container, volume, network and firewall rules, whichever exist.
                await self._containers.remove_deployment(str(deployment_id))
            except DockerUnavailable:
                log.warning(
                    "could not remove the container of %s; the reconciler will", deployment_id
                )
        async with self._pool.acquire() as conn:
            done = await self._store.end(conn, deployment_id, status, reason)
        await self._audit.record(
            self._pool,
            AuditEntry(
                f"deployment.{status.value}",
                actor.user_id if actor else None,
                # In the workspace's log next to its `deployment.started`.
                await self._workspace_of(done["session_id"]),
                "deployment",
                str(deployment_id),
                new_value={"reason": reason},
            ),
            actor.client if actor else None,
        )
        await self._status(done["session_id"], deployment_id, status)

    async def keep_output_if_none(self, deployment_id: uuid.UUID, container_id: str) -> None:
        """For a container that outlived its deployment (stopped by a process of another
        cluster, which could not read it): its output, unless some was kept."""
        if await self._store.output(self._pool, deployment_id) is None:
            await self._keep_output(deployment_id, container_id)

    async def _keep_output(self, deployment_id: uuid.UUID, container_id: str) -> None:
        """The end of what the app printed, masked, kept before its container goes."""
        assert self._containers is not None
        masker = Masker(await self._containers.secret_values(container_id))
        text = masker(await self._containers.logs(container_id, "all"))
        if text:
            await self._store.keep_output(
                self._pool, deployment_id, last_bytes(text, self._limits.keep_bytes)
            )

    async def _status(
        self, session_id: uuid.UUID, deployment_id: uuid.UUID, status: Status
    ) -> None:
        metrics.deployment_status(status.value)
        await self._announce(
            session_id,
            "deployment:status",
            {
                "deployment_id": str(deployment_id),
                "status": status.value,
                "deployment_url": self.url_of(deployment_id),
            },
        )

    # -- reading -------------------------------------------------------------------------------

    async def get(self, deployment_id: uuid.UUID) -> asyncpg.Record:
        row = await self._store.get(self._pool, deployment_id)
        if row is None:
            raise NotFound("No such deployment.")
        return row

    async def live_for(self, session_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = await self._store.shown_of_session(self._pool, session_id)
        # The URL as served now (a row from before previews had their own origin says where
        # it was served then).
        return [
            deployment_json(r) | {"deployment_url": self.url_of(r["deployment_id"])} for r in rows
        ]

    async def past_for(self, session_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = await self._store.past_of_session(self._pool, session_id)
        return [
            {
                "past_deployment_id": str(r["past_deployment_id"]),
                "deployment_id": str(r["original_deployment_id"])
                if r["original_deployment_id"]
                else None,
                "deployment_url": r["deployment_url"],
                "started_at": r["started_at"].isoformat() if r["started_at"] else None,
                "stopped_at": r["stopped_at"].isoformat(),
                "total_runtime_minutes": r["total_runtime_minutes"],
                "reason_for_stop": r["reason_for_stop"],
            }
            for r in rows
        ]

    async def logs(self, row: asyncpg.Record, tail: int) -> str:
        """The last `tail` lines of its output: the container's while it has one, else what
        was kept when it stopped. Masked for its secrets either way."""
        if row["status"] not in (Status.STOPPED, Status.FAILED):
            if not row["container_id"] or self._containers is None:
                return ""
            try:
                masker = Masker(await self._containers.secret_values(row["container_id"]))
                return masker(await self._containers.logs(row["container_id"], tail))
            except DockerUnavailable:
                raise Unavailable("The Docker Engine does not answer.") from None
        kept = await self._store.output(self._pool, row["deployment_id"]) or ""
        lines = kept.splitlines(keepends=True)
        return "".join(lines[-tail:])

    async def stats(self, row: asyncpg.Record) -> dict[str, float | int]:
        """CPU, memory and network use of a running deployment's container, read now."""
        if row["status"] != Status.RUNNING or not row["container_id"] or self._containers is None:
            raise Conflict(f"The deployment is {row['status']}: only a running one has usage.")
        try:
            stats = await self._containers.stats(row["container_id"])
        except DockerUnavailable:
            raise Unavailable("The Docker Engine does not answer.") from None
        if stats is None:
            raise Conflict("The deployment's container is gone.")
        return stats
