"""Redis stopped under a running `collab serve`: the routes that need it answer 503
`unavailable` with Retry-After, never a 500; a rate-limited route fails closed (a login
with the right password is refused rather than let through uncounted); and everything
answers again once Redis is back, without a restart. (How documents converge across
processes after a Redis outage is the Redis part of the fault suite.)"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.cluster_support import setup_session
from tests.faults.services import OwnRedis
from tests.faults.support import answer, assert_unavailable, wait_ready
from tests.support import ServerProcess

pytestmark = pytest.mark.integration

PASSWORD = "Correct-Horse-7-Battery"  # tests.cluster_support's people


async def test_redis_stopped_fails_closed_and_recovers(
    fault_server: ServerProcess, own_redis: OwnRedis
) -> None:
    base = fault_server.url
    login = {"login": "alpha", "password": PASSWORD}
    async with aiohttp.ClientSession() as http:
        session_id, owner, _ = await setup_session(http, base)

        await asyncio.to_thread(own_redis.stop)
        # Its counters are in Redis: refused, even with the right password.
        for _ in range(3):
            assert_unavailable(*await answer(http, "POST", f"{base}/api/auth/login", body=login))
        # A read that needs only PostgreSQL goes on (tokens are checked there, not in Redis).
        status, _, _ = await answer(http, "GET", f"{base}/api/sessions/{session_id}", owner.token)
        assert status == 200
        status, _, ready = await answer(http, "GET", f"{base}/readyz")
        assert status == 503 and ready["error"]["details"]["redis"] != "ok", ready
        assert ready["error"]["details"]["postgres"] == "ok"

        await asyncio.to_thread(own_redis.start)
        await wait_ready(http, base, timeout=10)
        status, _, _ = await answer(http, "POST", f"{base}/api/auth/login", body=login)
        assert status == 200
    assert "unhandled error" not in fault_server.logs()  # no 500 on any route
