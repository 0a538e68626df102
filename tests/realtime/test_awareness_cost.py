"""An awareness update is decoded entry by entry in Python (about 2.5 µs an entry) before
anything is counted or refused. One holding 150,000 tiny entries fits the message cap
(1 MB) and the byte budget's burst (2 MB): a viewer held the server's whole event loop
about 0.4 s with each, twice per socket at once and once every two seconds after that. A
real one names at most the clients the room knows (an echo) and the socket's own few:
more than those (with room to spare) are refused before any is read."""

from __future__ import annotations

import time

from collab.documents import awareness
from collab.state import REALTIME
from tests.documents.typing_support import LoopLag
from tests.live_support import LiveSession
from tests.realtime.test_fast_path_hostile import RawSocket, header, until
from tests.support import Client


async def test_an_awareness_update_of_countless_entries_is_refused_unread(
    client: Client, live: LiveSession
) -> None:
    namespace = f"/yjs|{live.room()}"
    flood = awareness.encode([awareness.AwarenessEntry(i + 1, 1, "{}") for i in range(150_000)])
    assert len(flood) < 1024 * 1024
    raw = await RawSocket.open(client)
    try:
        await raw.connect(namespace, live.viewer.token)
        async with LoopLag() as lag:
            start = time.perf_counter()
            for _ in range(2):
                await raw.ws.send_str(header(namespace, "awareness-update"))
                await raw.ws.send_bytes(flood)
            await until(lambda: len(raw.errors(namespace)) >= 2, timeout=30)
            held = lag.max_cpu_between(start, time.perf_counter())
        assert held < 0.05, f"the loop was held {held:.3f} s at once"
        assert all('"invalid_update"' in e for e in raw.errors(namespace)), raw.errors(namespace)
        # The socket's own state still goes through.
        mine = awareness.encode([awareness.AwarenessEntry(4242, 1, '{"user":{}}')])
        await raw.ws.send_str(header(namespace, "awareness-update"))
        await raw.ws.send_bytes(mine)
        rooms = {room for room, _ in client.app[REALTIME].sync._sockets.values()}
        await until(lambda: any(4242 in room.awareness for room in rooms), timeout=5)
    finally:
        await raw.close()
