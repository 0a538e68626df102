"""Ending every session cuts off access tokens exactly: one issued a moment before
logout-all, a password reset or a deactivation is refused even within the same second, and
one issued a moment after (logging in again) works.

JWT `iat` has whole seconds only, so each test starts just after a second boundary and
checks that the cut-off really fell in the same second as the refused token's `iat`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import jwt

from auth.tokens import token_digest
from collab.state import ACCOUNTS
from kernel.context import ClientInfo
from tests.accounts_support import STRONG_PASSWORD, bearer, link_token, outbox, register
from tests.support import Client

NEW_PASSWORD = "Brand-New-Passw0rd"


async def me(client: Client, pair: dict[str, Any]) -> tuple[int, str]:
    response = await client.get("/api/auth/me", headers=bearer(pair))
    body = await response.json()
    return response.status, body.get("error", {}).get("code", "")


async def log_in(client: Client, login: str, password: str = STRONG_PASSWORD) -> dict[str, Any]:
    response = await client.post("/api/auth/login", json={"login": login, "password": password})
    assert response.status == 200, await response.text()
    pair: dict[str, Any] = await response.json()
    return pair


def issued_second(pair: dict[str, Any]) -> int:
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    return int(claims["iat"])


async def cut_off_in_the_same_second(
    client: Client, login: str, end_every_session: Callable[[dict[str, Any]], Awaitable[None]]
) -> dict[str, Any]:
    """Log in, then end every session within the same second; the token from before."""
    await asyncio.sleep(1.02 - time.time() % 1)  # just after a whole second
    before = await log_in(client, login)
    assert (await me(client, before))[0] == 200
    await end_every_session(before)
    assert int(time.time()) == issued_second(before), "too slow to test the same second"
    return before


async def test_logout_all_refuses_a_token_issued_the_same_second(client: Client) -> None:
    await register(client, "cutoff")

    async def logout_all(pair: dict[str, Any]) -> None:
        response = await client.post("/api/auth/logout-all", headers=bearer(pair))
        assert response.status == 204

    before = await cut_off_in_the_same_second(client, "cutoff", logout_all)
    assert await me(client, before) == (401, "invalid_token")
    after = await log_in(client, "cutoff")  # right away, very likely the same second too
    assert await me(client, after) == (200, "")
    refreshed = await client.post(
        "/api/auth/refresh", json={"refresh_token": after["refresh_token"]}
    )
    assert refreshed.status == 200
    assert await me(client, await refreshed.json()) == (200, "")
    assert await me(client, before) == (401, "invalid_token")


async def test_password_reset_refuses_a_token_issued_the_same_second(
    client: Client, tmp_path: Path
) -> None:
    await register(client, "resetcut")
    forgot = await client.post("/api/auth/password/forgot", json={"email": "resetcut@example.org"})
    assert forgot.status == 202
    token = link_token((await outbox(client, tmp_path))[-1]["body"], "/reset-password")

    async def reset(_: dict[str, Any]) -> None:
        response = await client.post(
            "/api/auth/password/reset", json={"token": token, "password": NEW_PASSWORD}
        )
        assert response.status == 204

    before = await cut_off_in_the_same_second(client, "resetcut", reset)
    assert await me(client, before) == (401, "invalid_token")
    after = await log_in(client, "resetcut", NEW_PASSWORD)
    assert await me(client, after) == (200, "")


async def test_deactivation_refuses_a_token_issued_the_same_second_even_once_reactivated(
    client: Client,
) -> None:
    user_id = uuid.UUID((await register(client, "deactcut"))["user"]["user_id"])
    accounts = client.app[ACCOUNTS]
    operator = ClientInfo(None, "test")

    async def deactivate(_: dict[str, Any]) -> None:
        await accounts.set_active(user_id, False, operator)

    before = await cut_off_in_the_same_second(client, "deactcut", deactivate)
    assert await me(client, before) == (401, "invalid_token")
    await accounts.set_active(user_id, True, operator)
    # Reactivating does not revive what deactivation ended.
    assert await me(client, before) == (401, "invalid_token")
    after = await log_in(client, "deactcut")
    assert await me(client, after) == (200, "")


async def test_a_refresh_racing_logout_all_leaves_nothing_alive(
    client: Client, db: asyncpg.Connection, database_url: str
) -> None:
    """A refresh caught mid-rotation when logout-all arrives: whichever finishes first,
    neither the new access token nor the new refresh token outlives the logout-all."""
    pair = await register(client, "racecut")

    async def waiting_for_locks(count: int) -> None:
        for _ in range(500):
            if await db.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted") >= count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"never {count} waiting for a lock")

    holder = await asyncpg.connect(database_url)
    try:
        hold = holder.transaction()
        await hold.start()
        await holder.execute(
            "SELECT 1 FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
            token_digest(pair["refresh_token"]),
        )
        refresh = asyncio.create_task(
            client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        )
        await waiting_for_locks(1)
        logout_all = asyncio.create_task(client.post("/api/auth/logout-all", headers=bearer(pair)))
        await waiting_for_locks(2)
        await hold.rollback()
        refreshed, logged_out = await refresh, await logout_all
    finally:
        await holder.close()
    assert logged_out.status == 204
    assert refreshed.status == 200, await refreshed.text()  # it was first in line
    new = await refreshed.json()
    assert await me(client, new) == (401, "invalid_token")
    successor = await client.post("/api/auth/refresh", json={"refresh_token": new["refresh_token"]})
    assert successor.status == 401
