"""A long Redis outage under two `collab serve` processes: `/`-namespace events, which cross
processes through python-socketio's Redis client manager, cross again soon after Redis
returns.

The stock `socketio.AsyncRedisManager` retries its subscription with a backoff doubling to
60 s, so after an outage of OUTAGE_SECONDS it is in its 8 s sleep and events from the other
process are lost until it wakes (this test fails with it: B heard A 6 to 7 s after Redis
answered). Ours (`collab.realtime.socketio_redis`) retries within RETRY_MAX_SECONDS (heard
after 0.8 to 1.8 s). The event: `participant:joined` / `participant:left`, as a person on
process A joins or leaves the session and the owner, on process B, is told.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio.connection import AbstractConnection

from collab.app import build_app
from collab.documents.fanout import RETRY_MAX_SECONDS
from collab.realtime.socketio_redis import RedisClientManager
from config import Settings
from tests.accounts_support import register
from tests.cluster_support import setup_session
from tests.faults.services import OwnRedis
from tests.support import ServerProcess

# The stock manager's tries fail at once while Redis is down (connection refused), so it
# sleeps 1, 2, 4 s, then 8 s from 7 s into the outage to 15 s: Redis returns mid-way.
OUTAGE_SECONDS = 9.0
# Our backoff's cap, plus a join/leave round and the delivery, with slack.
RESUME_SECONDS = RETRY_MAX_SECONDS + 1.0


async def _join(client: socketio.AsyncClient, session_id: str) -> None:
    answer = await client.call("session:join", {"session_id": session_id}, timeout=5)
    assert answer["ok"], answer


async def _leave(client: socketio.AsyncClient, session_id: str) -> None:
    answer = await client.call("session:leave", {"session_id": session_id}, timeout=5)
    assert answer["ok"], answer


@pytest.mark.integration
async def test_slash_events_cross_processes_again_soon_after_a_long_redis_outage(
    tmp_path: Path, own_env: dict[str, str], own_redis: OwnRedis
) -> None:
    a = ServerProcess(tmp_path / "a", own_env).start()
    b = ServerProcess(tmp_path / "b", own_env).start()
    on_a = socketio.AsyncClient(reconnection=False)
    on_b = socketio.AsyncClient(reconnection=False)
    seen: list[tuple[str, float]] = []  # what the owner on B was told, and when

    def told(event: str) -> Any:
        return lambda data: seen.append((event, time.monotonic()))

    on_b.on("participant:joined", told("joined"))
    on_b.on("participant:left", told("left"))
    try:
        async with aiohttp.ClientSession() as http:
            session_id, owner, editor = await setup_session(http, a.url)
        await on_b.connect(b.url, auth={"token": owner.token}, transports=["websocket"])
        await on_a.connect(a.url, auth={"token": editor.token}, transports=["websocket"])
        await _join(on_b, session_id)

        # Before the outage: an event of A reaches B.
        await _join(on_a, session_id)
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.05)
        assert [event for event, _ in seen] == ["joined"]
        await _leave(on_a, session_id)

        own_redis.stop()
        await asyncio.sleep(OUTAGE_SECONDS)
        await asyncio.to_thread(own_redis.start)
        back = time.monotonic()
        seen.clear()

        # Join and leave on A over and over: what is published before B resubscribed is
        # lost (pub/sub keeps nothing), so the first one B hears tells when it listens.
        deadline = back + 4 * RESUME_SECONDS  # past the bound, to print how late it was
        while not seen and time.monotonic() < deadline:
            await _join(on_a, session_id)
            await asyncio.sleep(0.1)
            await _leave(on_a, session_id)
            await asyncio.sleep(0.1)
        assert seen, f"B heard nothing from A within {4 * RESUME_SECONDS:.0f}s of Redis's return"
        took = seen[0][1] - back
        print(f"B heard A's `/` events {took:.2f}s after Redis answered again")
        assert took <= RESUME_SECONDS, f"{took:.2f}s"

        # Both clients lived through it without reconnecting.
        assert on_a.connected and on_b.connected
        for log in (a.logs(), b.logs()):
            assert "Traceback" not in log, log
    finally:
        await on_a.disconnect()
        await on_b.disconnect()
        a.stop()
        b.stop()


async def test_emitting_while_redis_is_down_drops_at_once_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`/` events are best-effort across processes: while Redis is down an emit still reaches
    this process's sockets at once, and what would cross is dropped, with one warning (the
    stock manager tries twice and logs two ERRORs per emit)."""
    refusing = tmp_path / "redis.sock"  # a socket file nobody listens on: refused
    with socket.socket(socket.AF_UNIX) as unbound:
        unbound.bind(str(refusing))
    manager = RedisClientManager(f"unix://{refusing}", channel="test")
    sio = socketio.AsyncServer(client_manager=manager, async_mode="aiohttp")
    try:
        with caplog.at_level(logging.INFO):
            started = time.monotonic()
            for _ in range(50):
                await sio.emit("participant:joined", {"user_id": "u"}, room="session:s")
            took = time.monotonic() - started
        assert took < 1.0, f"{took:.2f}s"
        told = [(r.levelname, r.name) for r in caplog.records if r.levelno >= logging.WARNING]
        assert told == [("WARNING", "collab.realtime.socketio_redis")], caplog.text
    finally:
        await manager.close()


def _open_redis_connections() -> set[int]:
    gc.collect()
    return {
        id(o)
        for o in gc.get_objects()
        if isinstance(o, AbstractConnection) and getattr(o, "_writer", None) is not None
    }


async def test_an_app_stopped_after_a_socket_connected_leaves_no_redis_connection_open(
    settings: Settings,
) -> None:
    """The first connection starts the manager's listener (subscribed on its own Redis
    connection); stopping the app closes it. The stock manager left it subscribed, for the
    garbage collector to close (the ResourceWarnings the suite once tolerated)."""
    before = _open_redis_connections()
    async with TestClient(TestServer(build_app(settings))) as client:
        pair = await register(client, "alpha")
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(
            str(client.make_url("/")),
            auth={"token": pair["access_token"]},
            transports=["websocket"],
        )
        await sio.disconnect()
    assert _open_redis_connections() - before == set()
