"""Several real server processes sharing PostgreSQL and Redis; one killed with SIGKILL."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from tests.cluster_support import api, setup_session
from tests.node_agent import NodeAgent
from tests.support import ServerProcess


async def test_clients_on_two_processes_converge(
    tmp_path: Path, external_env: dict[str, str], agent: NodeAgent
) -> None:
    with (
        ServerProcess(tmp_path / "a", external_env) as a,
        ServerProcess(tmp_path / "b", external_env) as b,
    ):
        async with aiohttp.ClientSession() as http:
            session_id, owner, editor = await setup_session(http, a.url)
            room = f"{session_id}/main.py"
            clients = [(f"a{i}", a.url) for i in range(3)] + [(f"b{i}", b.url) for i in range(3)]
            for name, url in clients:
                token = owner.token if name.startswith("a") else editor.token
                assert (await agent.call("connect", name=name, url=url, room=room, token=token))[
                    "synced"
                ]
            await asyncio.gather(
                *(
                    agent.call("insert", name=name, index=0, text=f"[{name}]")
                    for name, _ in clients
                    for _ in range(3)
                )
            )
            length = sum(len(f"[{n}]") * 3 for n, _ in clients)
            texts = [await agent.call("waitLength", name=n, length=length) for n, _ in clients]
            assert len(set(texts)) == 1
            # Both processes serve the same stored document.
            for base in (a.url, b.url):
                stored = await api(
                    http, "GET", f"{base}/api/sessions/{session_id}/files/main.py", owner.token
                )
                assert stored == texts[0]
            # Awareness crosses processes too.
            await agent.call("awareness", name="a0", state={"name": "Alpha"})
            for _ in range(60):
                if await agent.call("peers", name="b0"):
                    break
                await asyncio.sleep(0.05)
            assert {"name": "alpha", "id": owner.user_id} in await agent.call("peers", name="b0")


async def test_presence_events_cross_processes(
    tmp_path: Path, external_env: dict[str, str]
) -> None:
    with (
        ServerProcess(tmp_path / "a", external_env) as a,
        ServerProcess(tmp_path / "b", external_env) as b,
    ):
        async with aiohttp.ClientSession() as http:
            session_id, owner, editor = await setup_session(http, a.url)
        events: list[Any] = []
        on_a = socketio.AsyncClient(reconnection=False)
        on_a.on("participant:joined", lambda data: events.append(data))
        on_b = socketio.AsyncClient(reconnection=False)
        await on_a.connect(a.url, auth={"token": owner.token}, transports=["websocket"])
        await on_b.connect(b.url, auth={"token": editor.token}, transports=["websocket"])
        try:
            assert (await on_a.call("session:join", {"session_id": session_id}))["ok"]
            assert (await on_b.call("session:join", {"session_id": session_id}))["ok"]
            for _ in range(60):
                if events:
                    break
                await asyncio.sleep(0.05)
            assert [e["user"]["username"] for e in events] == ["beta"]
        finally:
            await on_a.disconnect()
            await on_b.disconnect()


async def test_killing_a_process_loses_nothing_any_client_received(
    tmp_path: Path, external_env: dict[str, str], agent: NodeAgent
) -> None:
    victim = ServerProcess(tmp_path / "victim", external_env).start()
    try:
        async with aiohttp.ClientSession() as http:
            session_id, owner, editor = await setup_session(http, victim.url)
        room = f"{session_id}/main.py"
        for name, token in (("w1", owner.token), ("w2", editor.token), ("observer", owner.token)):
            await agent.call("connect", name=name, url=victim.url, room=room, token=token)
        await agent.call("startTyping", name="w1", prefix="x")
        await agent.call("startTyping", name="w2", prefix="y")
        await asyncio.sleep(1.5)
        victim.stop(signal.SIGKILL)
        # What the observer shows came only from the server, so it was "received".
        received = await agent.call("text", name="observer")
        await agent.call("stopTyping", name="w1")
        await agent.call("stopTyping", name="w2")
    finally:
        victim.stop()
    tokens = re.findall(r"<[xy]\d+>", received)
    assert len(tokens) > 20, received  # the test really edited under load

    with ServerProcess(tmp_path / "restarted", external_env) as restarted:
        async with aiohttp.ClientSession() as http:
            stored = await api(
                http, "GET", f"{restarted.url}/api/sessions/{session_id}/files/main.py", owner.token
            )
    missing = [t for t in tokens if t not in stored]
    assert missing == []
