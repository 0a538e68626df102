"""Connecting `/` again and again over one Engine.IO connection (connect, leave, connect):
each connect authenticates its token (a database look-up for an API key or a login), out
of the handshake limit's sight. Document namespaces are budgeted per connection; so is `/`."""

from __future__ import annotations

import json

from collab.realtime.sync import CONNECT_BURST
from tests.live_support import LiveSession
from tests.realtime.test_fast_path_hostile import RawSocket, until
from tests.support import Client


async def test_connects_to_the_root_namespace_are_budgeted(
    client: Client, live: LiveSession
) -> None:
    raw = await RawSocket.open(client)
    try:
        for _ in range(CONNECT_BURST + 10):
            await raw.ws.send_str("40" + json.dumps({"token": live.viewer.token}))
            await raw.ws.send_str("41")
        await until(lambda: any(t.startswith("44{") for t in raw.texts), timeout=10)
        refusals = [json.loads(t[2:])["message"] for t in raw.texts if t.startswith("44{")]
        assert set(refusals) == {"rate_limited"}
        assert sum(1 for t in raw.texts if t.startswith("40{")) <= CONNECT_BURST + 2
    finally:
        await raw.close()
