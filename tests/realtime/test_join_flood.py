"""`session:join` costs five database queries (the role, the participants, the files, the
deployments, and presence in Redis) and had no budget: one socket could ask as fast as
PostgreSQL answered, hundreds of times a second, where every document message and terminal
event is budgeted per socket."""

from __future__ import annotations

import asyncio

from collab.realtime.presence import JOIN_BURST
from tests.live_support import LiveSession
from tests.realtime.test_socket_handshake import connect
from tests.support import Client


async def test_joins_over_the_sockets_budget_are_refused(client: Client, live: LiveSession) -> None:
    sio = await connect(client, live.viewer.token)
    try:
        join = {"session_id": live.session_id}
        answers = [await sio.call("session:join", join, timeout=5) for _ in range(JOIN_BURST)]
        assert all(a["ok"] for a in answers), answers[-1]
        flood = await asyncio.gather(
            *(sio.call("session:join", join, timeout=5) for _ in range(50))
        )
        refused = [a for a in flood if not a["ok"]]
        assert refused and {a["error"]["code"] for a in refused} == {"rate_limited"}
        leave = await sio.call("session:leave", join, timeout=5)
        assert leave["ok"] is True  # leaving costs little and is never refused
        await asyncio.sleep(1.0)
        again = await sio.call("session:join", join, timeout=5)
        assert again["ok"] is True, again
    finally:
        await sio.disconnect()
