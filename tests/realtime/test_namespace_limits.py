"""Document namespaces are connected over one Engine.IO connection, as many as a client asks
for: the handshake limit (per address) never sees them. Each one loads a room, runs the
connect's database queries and may hold MAX_CLIENTS_PER_SOCKET awareness states of up to
16 KiB. Before these limits one viewer's WebSocket connected a thousand documents in four
seconds and, with one awareness message each, grew the server by 126 MB. (The y-socket.io
client, and so the browser IDE, opens a connection of its own for each document.)"""

from __future__ import annotations

import asyncio
import json

from collab.realtime.sync import (
    CONNECT_BURST,
    CONNECTS_PER_SECOND,
    MAX_DOCUMENTS_PER_CONNECTION,
)
from collab.state import REALTIME
from tests.documents.test_document_sync import connect
from tests.live_support import LiveSession
from tests.node_agent import NodeAgent
from tests.realtime.test_fast_path_hostile import RawSocket, until
from tests.support import Client


def answers(raw: RawSocket, prefix: str) -> list[str]:
    return [t for t in raw.texts if t.startswith(prefix)]


async def connect_many(raw: RawSocket, live: LiveSession, token: str, paths: list[str]) -> None:
    for path in paths:
        namespace = f"/yjs|{live.room(path)}"
        await raw.ws.send_str(f"40{namespace}," + json.dumps({"token": token}))


def refusals(raw: RawSocket) -> list[str]:
    return [json.loads(t.split(",", 1)[1])["message"] for t in answers(raw, "44/yjs|")]


async def test_one_connection_holds_a_bounded_number_of_documents(
    client: Client, live: LiveSession, agent: NodeAgent
) -> None:
    sync = client.app[REALTIME].sync
    raw = await RawSocket.open(client)
    try:
        paths = [f"f{i}.py" for i in range(MAX_DOCUMENTS_PER_CONNECTION + 5)]
        await connect_many(raw, live, live.viewer.token, paths)
        await until(lambda: len(answers(raw, "40/yjs|")) + len(refusals(raw)) >= len(paths))
        assert len(answers(raw, "40/yjs|")) == MAX_DOCUMENTS_PER_CONNECTION
        assert set(refusals(raw)) == {"too_many_documents"}
        assert len(sync._sockets) == MAX_DOCUMENTS_PER_CONNECTION
        # A document let go makes room again.
        await raw.ws.send_str(f"41/yjs|{live.room('f0.py')},")
        await until(lambda: len(sync._sockets) == MAX_DOCUMENTS_PER_CONNECTION - 1)
        await asyncio.sleep(1 / CONNECTS_PER_SECOND)  # the connect budget refills
        await connect_many(raw, live, live.viewer.token, ["again.py"])
        await until(lambda: len(answers(raw, "40/yjs|")) == MAX_DOCUMENTS_PER_CONNECTION + 1)
        # The npm client (a connection per document) opens many more documents at once.
        for i in range(3):
            result = await connect(agent, client, f"c{i}", live.viewer.token, live.room("main.py"))
            assert result["synced"], result
    finally:
        await raw.close()
    # Every place taken is given back when its socket goes.
    await until(lambda: len(sync._sockets) == 3)
    assert sync._held == {m.eio_sid: 1 for _, m in sync._sockets.values()}


async def test_document_connects_on_one_connection_are_rate_limited(
    client: Client, live: LiveSession
) -> None:
    """Connecting and leaving a namespace again and again: each connect costs database
    queries and a room."""
    raw = await RawSocket.open(client)
    sync = client.app[REALTIME].sync
    try:
        namespace = f"/yjs|{live.room('g.py')}"
        for _ in range(CONNECT_BURST + 10):
            await raw.ws.send_str(f"40{namespace}," + json.dumps({"token": live.viewer.token}))
            await raw.ws.send_str(f"41{namespace},")
        await until(lambda: refusals(raw), timeout=30)
        assert set(refusals(raw)) == {"rate_limited"}
        assert len(answers(raw, "40/yjs|")) <= CONNECT_BURST + 1
        await until(lambda: not sync._sockets)
        assert not sync._held
    finally:
        await raw.close()
