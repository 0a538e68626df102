"""Edits of dynamic sessions go into their running containers (a reloading dev server then
shows them). Fed about once a second by the document rooms with the files that changed."""

from __future__ import annotations

import logging
import uuid

import asyncpg

from containers.engine import Containers, DockerUnavailable
from containers.store import DeploymentStore

log = logging.getLogger(__name__)


class LiveFiles:
    def __init__(
        self, pool: asyncpg.Pool, store: DeploymentStore, containers: Containers | None
    ) -> None:
        self._pool = pool
        self._store = store
        self._containers = containers

    async def write_changes(self, session_files: dict[uuid.UUID, dict[str, str]]) -> None:
        """session id → {path: text} for every changed file of that session."""
        if self._containers is None or not session_files:
            return
        for row in await self._store.running_dynamic(self._pool, list(session_files)):
            try:
                await self._containers.put_files(
                    row["container_id"], session_files[row["session_id"]]
                )
            except DockerUnavailable as exc:
                log.warning("could not update the files of %s: %s", row["deployment_id"], exc)
