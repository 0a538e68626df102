"""Readings for `kernel.metrics` taken at scrape time from what the live graph keeps.

The composition root registers these once it has built the Socket.IO server and the
deployment store: they read counts that already exist (python-socketio's rooms, the live
deployments' rows), so no event path is touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import asyncpg
import socketio

from collab.http.metrics import Refresh
from collab.realtime.sync import PREFIX as DOCUMENT_PREFIX
from containers.store import LIVE, DeploymentStore
from kernel import metrics


def namespace_kind(namespace: str) -> str:
    """`/` carries a session's presence and events; `/yjs|…` one document each."""
    if namespace == "/":
        return "session"
    if namespace.startswith(DOCUMENT_PREFIX):
        return "document"
    return "other"


def socket_counts(sio: socketio.AsyncServer) -> Iterator[tuple[tuple[str, ...], float]]:
    """Connected sockets of this process by namespace kind (handshakes still pending in a
    connect handler are not counted)."""
    manager = sio.manager
    totals = {"session": 0, "document": 0}
    for namespace, rooms in list(manager.rooms.items()):
        kind = namespace_kind(namespace)
        pending = len(manager.pending_connect.get(namespace, ()))
        totals[kind] = totals.get(kind, 0) + max(0, len(rooms.get(None, ())) - pending)
    for kind, count in totals.items():
        yield (kind,), float(count)


class LiveDeployments:
    """Live deployments by status, read from PostgreSQL before each scrape (`refresh`) and
    reported from the last reading (`reading`): a gauge's collect cannot await."""

    def __init__(self, pool: asyncpg.Pool, store: DeploymentStore) -> None:
        self._pool, self._store = pool, store
        self._counts: dict[str, int] = {status.value: 0 for status in LIVE}

    async def refresh(self) -> None:
        counts = {status.value: 0 for status in LIVE}
        for row in await self._store.live(self._pool):
            counts[str(row["status"])] = counts.get(str(row["status"]), 0) + 1
        self._counts = counts

    def reading(self) -> Iterator[tuple[tuple[str, ...], float]]:
        for status, count in self._counts.items():
            yield (status,), float(count)


def watch_live(
    refreshers: list[Refresh],
    sio: socketio.AsyncServer,
    pool: asyncpg.Pool,
    deployments: DeploymentStore,
) -> Callable[[], None]:
    """Register this application's readings; returns what unregisters them."""
    live_deployments = LiveDeployments(pool, deployments)
    refreshers.append(live_deployments.refresh)
    unwatch = [
        metrics.SOCKETS.watch(lambda: socket_counts(sio)),
        metrics.DEPLOYMENTS.watch(live_deployments.reading),
    ]

    def stop() -> None:
        for undo in unwatch:
            undo()
        if live_deployments.refresh in refreshers:
            refreshers.remove(live_deployments.refresh)

    return stop
