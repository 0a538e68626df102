"""Awareness renewals are relayed together, a little later; every change still at once.

Why: each relayed renewal comes back as one echo from every other npm client, which at
200 editors saturated the server (collab/realtime/renewals.py, docs/performance.md).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import socketio

from collab.documents import awareness
from collab.documents.awareness import AwarenessEntry
from collab.realtime.renewals import RENEWAL_DELAY
from tests.live_support import LiveSession
from tests.support import Client


class Peer:
    """A bare Socket.IO client on the document's namespace that records awareness."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.sio = socketio.AsyncClient(reconnection=False)
        self.received: list[tuple[float, list[AwarenessEntry]]] = []
        self.errors: list[Any] = []
        self.sio.on("sync-step-1", lambda _sv: b"\x00\x00", namespace=namespace)
        self.sio.on("awareness-update", self._awareness, namespace=namespace)
        self.sio.on("sync-error", self.errors.append, namespace=namespace)

    def _awareness(self, data: bytes) -> None:
        self.received.append((time.monotonic(), awareness.decode(bytes(data))))

    async def connect(self, client: Client, token: str) -> None:
        url = str(client.make_url("")).rstrip("/")
        await self.sio.connect(
            url, namespaces=[self.namespace], auth={"token": token}, transports=["websocket"]
        )

    async def send(self, *entries: AwarenessEntry) -> None:
        await self.sio.emit(
            "awareness-update", awareness.encode(list(entries)), namespace=self.namespace
        )

    def clocks(self, client_id: int) -> list[int]:
        return [e.clock for _, batch in self.received for e in batch if e.client_id == client_id]


async def until(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_renewals_wait_and_go_together_while_changes_go_at_once(
    client: Client, live: LiveSession
) -> None:
    namespace = f"/yjs|{live.room()}"
    observer, ann, bob = Peer(namespace), Peer(namespace), Peer(namespace)
    await observer.connect(client, live.owner.token)
    await ann.connect(client, live.editor.token)
    await bob.connect(client, live.viewer.token)
    try:
        cursor = json.dumps({"cursor": 1})
        await ann.send(AwarenessEntry(101, 1, cursor))
        await bob.send(AwarenessEntry(202, 1, cursor))
        await until(lambda: observer.clocks(101) == [1] and observer.clocks(202) == [1], 2)

        # Renewals: the same states with newer clocks. Nothing is relayed at once...
        observer.received.clear()
        sent = time.monotonic()
        await ann.send(AwarenessEntry(101, 2, cursor))
        await bob.send(AwarenessEntry(202, 2, cursor))
        await asyncio.sleep(RENEWAL_DELAY / 2)
        assert observer.received == []
        # ...then both in one message, within the delay.
        await until(lambda: observer.received, RENEWAL_DELAY + 2)
        arrived, batch = observer.received[0]
        assert sorted((e.client_id, e.clock) for e in batch) == [(101, 2), (202, 2)]
        assert arrived - sent < RENEWAL_DELAY + 1
        assert json.loads(batch[0].state)["cursor"] == 1  # stamped as before
        assert "user" in json.loads(batch[0].state)

        # A change (the cursor moved) is relayed at once.
        observer.received.clear()
        moved = time.monotonic()
        await ann.send(AwarenessEntry(101, 3, json.dumps({"cursor": 2})))
        await until(lambda: observer.clocks(101) == [3], RENEWAL_DELAY / 2)
        assert time.monotonic() - moved < RENEWAL_DELAY / 2
        assert ann.errors == bob.errors == []
    finally:
        for peer in (observer, ann, bob):
            await peer.sio.disconnect()


async def test_a_renewal_of_someone_who_left_is_not_relayed(
    client: Client, live: LiveSession
) -> None:
    namespace = f"/yjs|{live.room()}"
    observer, ann = Peer(namespace), Peer(namespace)
    await observer.connect(client, live.owner.token)
    await ann.connect(client, live.editor.token)
    try:
        state = json.dumps({"cursor": 1})
        await ann.send(AwarenessEntry(303, 1, state))
        await until(lambda: observer.clocks(303) == [1], 2)
        await ann.send(AwarenessEntry(303, 2, state))  # a renewal, waiting...
        await asyncio.sleep(0.2)
        await ann.sio.disconnect()  # ...when ann leaves: the removal goes at once
        await until(lambda: len(observer.clocks(303)) == 2, 2)
        await asyncio.sleep(RENEWAL_DELAY + 0.5)
        clocks = observer.clocks(303)
        states = [e.state for _, batch in observer.received for e in batch if e.client_id == 303]
        assert states[-1] == "null", states  # nothing brought ann back after the removal
        assert len(clocks) == 2, clocks
    finally:
        await observer.sio.disconnect()
