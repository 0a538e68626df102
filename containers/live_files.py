"""Edits of dynamic sessions go into their running containers (a reloading dev server then
shows them). Fed about once a second by the document rooms with the files that changed."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Collection

import asyncpg

from containers.engine_seam import DeploymentEngine, DockerUnavailable
from containers.store import DeploymentStore

log = logging.getLogger(__name__)

# Those of these sessions that are dynamic (asked of the sessions package).
DynamicOf = Callable[[Collection[uuid.UUID]], Awaitable[set[uuid.UUID]]]


class LiveFiles:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: DeploymentStore,
        containers: DeploymentEngine | None,
        dynamic_of: DynamicOf,
    ) -> None:
        self._pool = pool
        self._store = store
        self._containers = containers
        self._dynamic_of = dynamic_of

    async def write_changes(self, session_files: dict[uuid.UUID, dict[str, str]]) -> None:
        """session id → {path: text} for every changed file of that session."""
        if self._containers is None or not session_files:
            return
        dynamic = await self._dynamic_of(session_files.keys())
        if not dynamic:
            return
        try:
            cluster = await self._containers.cluster()
        except DockerUnavailable as exc:
            log.warning("could not update the files of running deployments: %s", exc)
            return
        # Only this cluster's: another host's containers are its own processes' to update.
        for row in await self._store.running_of_sessions(self._pool, list(dynamic), cluster):
            try:
                await self._containers.put_files(
                    row["container_id"], session_files[row["session_id"]]
                )
            except DockerUnavailable as exc:
                log.warning("could not update the files of %s: %s", row["deployment_id"], exc)
