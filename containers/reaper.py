"""Keeping deployments honest: what runs is what the database says, and nothing runs
forever.

The reaper (every few seconds, on every process; stopping is idempotent) stops a running
deployment when its container died (failed, with the exit code), when it has had no preview
traffic and no live participant for the idle time, or when it reaches its maximum
lifetime; and it removes containers whose deployment was stopped by a process of another
cluster (keeping their output first). The reconciler (at start-up) adopts containers that
still run for live deployments, archives live deployments whose container is gone as
`orphaned`, and removes containers and networks that carry our label but belong to no live
deployment (with the firewall rules of networks that are gone).

The engine may go away under a running server (restarted, upgraded, crashed). The reaper
notices when a sweep falls into the outage (it does not answer) and, once the engine
answers again, reconciles before it sweeps: containers that survived (`--live-restore`)
are adopted, deployments whose container vanished are archived. A start-up reconcile that
found no engine is made up for the same way, without restarting the server. An outage
between two sweeps goes unnoticed here, and needs nothing: a container that died meanwhile
is failed by the next sweep, and the log followers resume by themselves after any outage
(`containers.logs`; adopting one that still follows changes nothing).

Both act only on their own cluster (`DeploymentEngine.cluster`): its rows and its labelled
objects. Another host's engine, or another database's server on the same engine, is never
touched, so neither archives the other's live deployments.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection

import asyncpg

from containers.engine_seam import DeploymentEngine, DockerUnavailable
from containers.lifecycle import Deployments
from containers.store import DeploymentStore, Status

log = logging.getLogger(__name__)

# Those of these sessions where a participant was present within the last seconds (asked of
# the sessions package).
PresentIn = Callable[[Collection[uuid.UUID], float], Awaitable[set[uuid.UUID]]]


class Reaper:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: DeploymentStore,
        deployments: Deployments,
        containers: DeploymentEngine,
        present_in: PresentIn,
        *,
        idle_seconds: float,
        max_lifetime_seconds: float,
        interval: float,
    ) -> None:
        self._pool = pool
        self._store = store
        self._deployments = deployments
        self._containers = containers
        self._present_in = present_in
        self._idle = idle_seconds
        self._lifetime = max_lifetime_seconds
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        # True until a reconcile has run against the engine as it is now: at start, and
        # again whenever the engine stopped answering.
        self._reconcile_due = True

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="deploy:reaper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                if self._reconcile_due:
                    await self.reconcile()
                await self.sweep()
            except DockerUnavailable as exc:
                if not self._reconcile_due:  # once per outage, not once per sweep
                    log.warning("deployment reaper: Docker does not answer (%s)", exc)
                self._reconcile_due = True
            except Exception:
                log.exception("deployment reaper failed; it will run again")

    async def sweep(self) -> None:
        cluster = await self._containers.cluster()
        rows = await self._store.running_for_review(self._pool, self._idle, self._lifetime, cluster)
        # Idle: no preview traffic and no participant present for the idle time.
        quiet = {row["session_id"] for row in rows if row["quiet"]}
        present = await self._present_in(quiet, self._idle) if quiet else set()
        for row in rows:
            state = (
                await self._containers.state(row["container_id"]) if row["container_id"] else None
            )
            if state is None or not state.get("Running"):
                code = state.get("ExitCode") if state else "unknown"
                await self._deployments.finish(
                    row["deployment_id"], Status.FAILED, f"the container exited with code {code}"
                )
            elif row["expired"]:
                await self._deployments.stop(None, row["deployment_id"], "maximum lifetime reached")
            elif row["quiet"] and row["session_id"] not in present:
                await self._deployments.stop(None, row["deployment_id"], "idle")
        await self._remove_finished(cluster)

    async def _remove_finished(self, cluster: str) -> None:
        """Containers of this cluster whose deployment is no longer live: a process of
        another cluster (sharing the database) stopped it and could not reach them."""
        managed = await self._containers.managed()
        if not managed:
            return
        live = {r["deployment_id"] for r in await self._store.live(self._pool, cluster)}
        for container_id, label, _ in managed:
            with contextlib.suppress(ValueError):
                deployment_id = uuid.UUID(label)
                if deployment_id not in live:
                    await self._deployments.keep_output_if_none(deployment_id, container_id)
                    await self._containers.remove(container_id)

    async def reconcile(self) -> tuple[int, int, int]:
        """Return (adopted, orphaned, strangers removed)."""
        cluster = await self._containers.cluster()
        await self._store.claim_unclustered(self._pool, cluster, self._containers.name)
        containers = await self._containers.managed()
        live = {r["deployment_id"]: r for r in await self._store.live(self._pool, cluster)}
        running = {}
        strangers = 0
        for container_id, label, is_running in containers:
            try:
                deployment_id = uuid.UUID(label)
            except ValueError:
                deployment_id = None
            if deployment_id in live and is_running:
                running[deployment_id] = container_id
            else:
                await self._containers.remove(container_id)
                strangers += 1
        # Networks (and their firewall rules) of deployments that are not live any more.
        for _, label in await self._containers.networks():
            try:
                network_of = uuid.UUID(label)
            except ValueError:
                continue
            if network_of not in live:
                await self._containers.remove_deployment(label)
                strangers += 1
        await self._containers.forget_rules()
        orphaned = 0
        for deployment_id in live:
            if deployment_id in running:
                await self._store.adopt(self._pool, deployment_id, running[deployment_id])
                self._deployments.follow_logs(
                    live[deployment_id]["session_id"], deployment_id, running[deployment_id]
                )
            else:
                await self._store.rearm(self._pool, deployment_id)
                await self._deployments.stop(None, deployment_id, "orphaned")
                orphaned += 1
        self._reconcile_due = False
        if strangers or orphaned:
            log.warning(
                "reconciled deployments: %d adopted, %d orphaned, %d strangers removed",
                len(running),
                orphaned,
                strangers,
            )
        return len(running), orphaned, strangers
