"""Redis stopped under two `collab serve` processes while npm y-socket.io clients edit
through both.

What must hold: during the outage each edit is still stored and reaches the other clients of
its own process (not those of the other process: nothing crosses without Redis); once Redis
is back, both processes resubscribe by themselves and catch their rooms up from PostgreSQL,
so every client shows the stored document within CONVERGENCE_SECONDS, without reconnecting.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from collab.documents.fanout import INTRODUCTION_SECONDS, RETRY_MAX_SECONDS
from tests.cluster_support import api, setup_session
from tests.faults.services import OwnRedis
from tests.node_agent import NodeAgent
from tests.support import ServerProcess

pytestmark = pytest.mark.integration

# The stated bound (docs/failure-behaviour.md): the resubscription backoff's cap, the wait
# for the other processes' ACKs, and one read of each loaded document, with slack.
CONVERGENCE_SECONDS = RETRY_MAX_SECONDS + INTRODUCTION_SECONDS + 1.0


async def _texts(agent: NodeAgent, names: list[str]) -> list[str]:
    return [await agent.call("text", name=n) for n in names]


async def _until_all_show(agent: NodeAgent, names: list[str], want: str, within: float) -> None:
    deadline = time.monotonic() + within
    while (texts := await _texts(agent, names)) != [want] * len(names):
        if time.monotonic() > deadline:
            raise AssertionError(f"clients show {texts!r}, want {want!r}")
        await asyncio.sleep(0.05)


async def test_clients_on_two_processes_converge_after_redis_returns_without_reconnecting(
    tmp_path: Path, own_env: dict[str, str], own_redis: OwnRedis, agent: NodeAgent
) -> None:
    a = ServerProcess(tmp_path / "a", own_env).start()
    b = ServerProcess(tmp_path / "b", own_env).start()
    names = ["a1", "a2", "b1"]  # two clients on `a`, one on `b`
    try:
        async with aiohttp.ClientSession() as http:
            session_id, owner, editor = await setup_session(http, a.url)
        room = f"{session_id}/main.py"
        for name, server, person in (("a1", a, owner), ("a2", a, editor), ("b1", b, editor)):
            joined = await agent.call(
                "connect", name=name, url=server.url, room=room, token=person.token
            )
            assert joined["synced"], joined
        await agent.call("insert", name="a1", index=-1, text="<before>")
        await _until_all_show(agent, names, "<before>", within=10)

        own_redis.stop()
        await asyncio.sleep(1.5)  # both processes have noticed
        await agent.call("insert", name="a1", index=-1, text="<a-out>")
        await agent.call("insert", name="b1", index=0, text="<b-out>")
        # Stored and relayed on its own process while Redis is down...
        await agent.call("waitText", name="a2", text="<before><a-out>", timeout=5000)
        await asyncio.sleep(1.0)
        # ...and nothing crossed between the processes.
        assert await _texts(agent, names) == ["<before><a-out>"] * 2 + ["<b-out><before>"]

        await asyncio.to_thread(own_redis.start)
        back = time.monotonic()
        want = "<b-out><before><a-out>"
        await _until_all_show(agent, names, want, within=CONVERGENCE_SECONDS)
        took = time.monotonic() - back
        print(f"converged {took:.2f}s after Redis answered again")

        for name in names:
            assert await agent.call("connects", name=name) == 1, name  # never reconnected
            assert await agent.call("connected", name=name), name
            assert await agent.call("syncErrors", name=name) == [], name

        # Live traffic crosses again, and what every client shows is what is stored.
        await agent.call("insert", name="b1", index=-1, text="<after>")
        want += "<after>"
        await _until_all_show(agent, names, want, within=5)
        async with aiohttp.ClientSession() as http:
            for server in (a, b):
                stored = await api(
                    http,
                    "GET",
                    f"{server.url}/api/sessions/{session_id}/files/main.py",
                    owner.token,
                )
                assert stored == want
        for log in (a.logs(), b.logs()):
            assert "Traceback" not in log, log
    finally:
        for name in names:
            await agent.call("close", name=name)
        a.stop()
        b.stop()
