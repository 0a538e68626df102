"""An edit refused over its socket's budget (`rate_limited`) comes back without a reconnect
(collab.realtime.resync), with the real npm clients (yjs + y-socket.io + socket.io-client).

The y-socket.io client keeps a refused edit in its Yjs doc, and every later keystroke
continues it: without the server asking for it back, those keystrokes were refused
`invalid_update` and the author's editor stayed apart from everyone until a reconnect."""

from __future__ import annotations

import asyncio
import string
import time
from typing import Any

from tests.documents.test_document_sync import file_text, url
from tests.faults.support import stored_text
from tests.live_support import live_session
from tests.node_agent import NodeAgent

RATE = 5  # messages a second; bursts of twice that


async def _converged(
    agent: NodeAgent, client: Any, live: Any, database_url: str, expected: str
) -> dict[str, str]:
    """Within a few seconds: what the author, the other client, the server's copy and
    PostgreSQL hold (all `expected` if the refused edits came back)."""
    deadline = time.monotonic() + 8
    while True:
        last = {n: await agent.call("text", name=n) for n in ("a", "b")}
        last["server"] = await file_text(client, live)
        last["stored"] = await stored_text(database_url, live.session_id, "main.py")
        if set(last.values()) == {expected} or time.monotonic() > deadline:
            return last
        await asyncio.sleep(0.2)


async def _two_clients(agent: NodeAgent, client: Any) -> Any:
    live = await live_session(client)
    for name, member in (("a", live.editor), ("b", live.owner)):
        joined = await agent.call(
            "connect", name=name, url=url(client), room=live.room(), token=member.token
        )
        assert joined["synced"], joined
    await agent.call("insert", name="a", index=0, text="start;")
    await agent.call("waitText", name="b", text="start;")
    return live


async def _never_reconnected_nor_refused_otherwise(agent: NodeAgent) -> None:
    for name in ("a", "b"):
        assert await agent.call("connects", name=name) == 1, name  # never reconnected
    codes = [e["code"] for e in await agent.call("syncErrors", name="a")]
    # Later keystrokes were never taken for edits the document does not have, nor was the
    # refusal told as storage's.
    assert set(codes) == {"rate_limited"}, codes
    assert await agent.call("syncErrors", name="b") == []


async def test_an_edit_refused_over_the_message_budget_comes_back_without_a_reconnect(
    make_client: Any, database_url: str, agent: NodeAgent
) -> None:
    client = await make_client(socket_messages_per_second=RATE)
    live = await _two_clients(agent, client)

    # A burst far over the budget: one keystroke at a time, as fast as the agent types.
    burst = string.ascii_letters  # 52 keystrokes against a burst allowance of 10
    for char in burst:
        await agent.call("insert", name="a", index=-1, text=char)
    # Keeps typing a little (some of these fit the refilling budget), then stops.
    tail = "0123456789"
    for char in tail:
        await asyncio.sleep(0.1)
        await agent.call("insert", name="a", index=-1, text=char)
    expected = "start;" + burst + tail

    codes = [e["code"] for e in await agent.call("syncErrors", name="a")]
    assert codes.count("rate_limited") >= 10, codes  # the burst was refused, many times over
    last = await _converged(agent, client, live, database_url, expected)
    assert last == dict.fromkeys(("a", "b", "server", "stored"), expected)
    await _never_reconnected_nor_refused_otherwise(agent)


async def test_an_edit_refused_over_the_byte_budget_comes_back_without_a_reconnect(
    make_client: Any, database_url: str, agent: NodeAgent
) -> None:
    """Pastes over the byte budget (the smallest: 1 KiB a second, bursts of 2 KiB): the
    refused ones come back in one diff, itself charged to the byte budget once refilled."""
    client = await make_client(max_message_bytes=1024, socket_bytes_per_second=1024)
    live = await _two_clients(agent, client)
    pastes = [f"<{i}:{'x' * 200}>" for i in range(12)]  # ~2.5 KB at once
    for paste in pastes:
        await agent.call("insert", name="a", index=-1, text=paste)
    expected = "start;" + "".join(pastes)

    codes = [e["code"] for e in await agent.call("syncErrors", name="a")]
    assert codes.count("rate_limited") >= 2, codes
    last = await _converged(agent, client, live, database_url, expected)
    assert last == dict.fromkeys(("a", "b", "server", "stored"), expected)
    await _never_reconnected_nor_refused_otherwise(agent)
