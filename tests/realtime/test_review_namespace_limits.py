"""Document namespaces are connected over one Engine.IO connection, as many as a client asks
for: the handshake limit (per address) never sees them. Each one loads a room, runs the
connect's database queries and may hold MAX_CLIENTS_PER_SOCKET awareness states of up to
16 KiB. Before these limits one viewer's WebSocket connected a thousand documents in four
seconds and, with one awareness message each, grew the server by 126 MB."""

from __future__ import annotations

import asyncio
import json
import time

from collab.realtime.sync import CONNECT_BURST, MAX_DOCUMENTS_PER_USER
from collab.state import REALTIME
from tests.live_support import LiveSession
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


async def test_one_person_holds_a_bounded_number_of_document_sockets(
    client: Client, live: LiveSession
) -> None:
    sync = client.app[REALTIME].sync
    sockets = []
    try:
        opened = 0
        while opened < MAX_DOCUMENTS_PER_USER:
            raw = await RawSocket.open(client)
            sockets.append(raw)
            batch = min(CONNECT_BURST, MAX_DOCUMENTS_PER_USER - opened)
            await connect_many(
                raw, live, live.viewer.token, [f"f{opened + i}.py" for i in range(batch)]
            )
            await until(lambda r=raw, b=batch: len(answers(r, "40/yjs|")) >= b, timeout=60)
            opened += batch
        extra = await RawSocket.open(client)
        sockets.append(extra)
        await connect_many(extra, live, live.viewer.token, ["one-more.py"])
        await until(lambda: answers(extra, "44/yjs|"), timeout=10)
        assert refusals(extra) == ["too_many_documents"]
        assert len(sync._sockets) == MAX_DOCUMENTS_PER_USER
        # Someone else is not held back by it.
        await connect_many(extra, live, live.editor.token, ["main.py"])
        await until(lambda: answers(extra, "40/yjs|"), timeout=10)
        # A document let go makes room again.
        first = sockets[0]
        await first.ws.send_str(f"41/yjs|{live.room('f0.py')},")
        await until(lambda: len(sync._sockets) == MAX_DOCUMENTS_PER_USER, timeout=10)
        await connect_many(extra, live, live.viewer.token, ["one-more.py"])
        await until(lambda: len(answers(extra, "40/yjs|")) == 2, timeout=10)
    finally:
        for raw in sockets:
            await raw.close()
    deadline = time.monotonic() + 10
    while sync._held and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not sync._held  # every place is given back when the sockets go


async def test_document_connects_on_one_connection_are_rate_limited(
    client: Client, live: LiveSession
) -> None:
    raw = await RawSocket.open(client)
    try:
        count = CONNECT_BURST + 20
        await connect_many(raw, live, live.viewer.token, [f"g{i}.py" for i in range(count)])
        await until(
            lambda: len(answers(raw, "40/yjs|")) + len(answers(raw, "44/yjs|")) >= count,
            timeout=60,
        )
        assert len(answers(raw, "40/yjs|")) < count
        assert set(refusals(raw)) == {"rate_limited"}
        # A refused connect neither loaded a room nor holds a place.
        sync = client.app[REALTIME].sync
        assert len(sync._sockets) == len(answers(raw, "40/yjs|"))
    finally:
        await raw.close()
