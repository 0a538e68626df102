"""The Socket.IO handshake: token required, browser origins checked, revoked users dropped."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import socketio

from collab.state import ACCOUNTS
from kernel.context import ClientInfo
from tests.accounts_support import STRONG_PASSWORD, bearer, register
from tests.support import Client


async def connect(
    client: Client, token: str | None, origin: str | None = None
) -> socketio.AsyncClient:
    sio = socketio.AsyncClient(reconnection=False)
    headers = {"Origin": origin} if origin else {}
    try:
        await sio.connect(
            str(client.make_url("/")),
            auth={"token": token} if token else None,
            headers=headers,
            transports=["websocket"],
            wait_timeout=5,
        )
    except socketio.exceptions.ConnectionError:
        await release(sio)
        raise
    return sio


async def release(sio: socketio.AsyncClient) -> None:
    """A refused client keeps its HTTP session open; close it."""
    if sio.eio.http is not None and not sio.eio.http.closed:
        await sio.eio.http.close()


async def test_a_valid_token_connects(client: Client) -> None:
    pair = await register(client, "sock")
    sio = await connect(client, pair["access_token"])
    assert sio.connected
    await sio.disconnect()


@pytest.mark.parametrize("token", [None, "garbage", "refresh"])
async def test_a_bad_or_missing_token_fails_with_unauthorized(
    client: Client, token: str | None
) -> None:
    pair = await register(client, "sock2")
    errors: list[Any] = []
    sio = socketio.AsyncClient(reconnection=False)
    sio.on("connect_error", lambda data: errors.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(
            str(client.make_url("/")),
            auth={"token": pair["refresh_token"] if token == "refresh" else token},
            transports=["websocket"],
            wait_timeout=5,
        )
    await release(sio)
    assert errors == [{"message": "unauthorized"}]


async def test_browser_origins_are_checked(make_client: Any) -> None:
    client = await make_client(allowed_origins="https://ide.example.com")
    pair = await register(client, "orig")
    allowed = await connect(client, pair["access_token"], origin="https://ide.example.com")
    assert allowed.connected
    await allowed.disconnect()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect(client, pair["access_token"], origin="https://evil.example.net")
    # The page's own host is trusted too (opened as localhost while the public URL says
    # 127.0.0.1), whatever the settings list.
    own = client.make_url("/")
    same_host = await connect(client, pair["access_token"], origin=f"http://{own.host}:{own.port}")
    assert same_host.connected
    await same_host.disconnect()


async def test_logout_all_and_deactivation_drop_live_sockets(client: Client) -> None:
    pair = await register(client, "drop")
    sio = await connect(client, pair["access_token"])
    await asyncio.sleep(1.01)  # a fresh login after the cut-off (tokens carry whole seconds)
    fresh = await (
        await client.post("/api/auth/login", json={"login": "drop", "password": STRONG_PASSWORD})
    ).json()
    assert (await client.post("/api/auth/logout-all", headers=bearer(fresh))).status == 204
    for _ in range(50):
        if not sio.connected:
            break
        await asyncio.sleep(0.1)
    assert not sio.connected

    second = await (
        await client.post("/api/auth/login", json={"login": "drop", "password": STRONG_PASSWORD})
    ).json()
    again = await connect(client, second["access_token"])
    await client.app[ACCOUNTS].set_active(
        uuid.UUID(pair["user"]["user_id"]), False, ClientInfo(None, None)
    )
    for _ in range(50):
        if not again.connected:
            break
        await asyncio.sleep(0.1)
    assert not again.connected


async def test_a_password_reset_drops_live_sockets(client: Client, tmp_path: Any) -> None:
    from tests.accounts_support import link_token, outbox

    pair = await register(client, "resetme")
    sio = await connect(client, pair["access_token"])
    await client.post("/api/auth/password/forgot", json={"email": "resetme@example.org"})
    reset = next(m for m in await outbox(client, tmp_path) if "Reset" in m["subject"])
    token = link_token(reset["body"], "/reset-password")
    done = await client.post(
        "/api/auth/password/reset", json={"token": token, "password": "A-whole-new-Passw0rd"}
    )
    assert done.status == 204
    for _ in range(50):
        if not sio.connected:
            break
        await asyncio.sleep(0.1)
    assert not sio.connected
