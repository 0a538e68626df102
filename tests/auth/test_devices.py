"""Logins ("devices"): listed with the caller's own marked, ended one at a time (its access
tokens refused and its sockets closed at once), and the new-device notice mail."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import jwt
import pytest
import socketio

from auth.devices import device_hash, device_name
from kernel.context import ClientInfo
from tests.accounts_support import STRONG_PASSWORD, bearer, outbox, register
from tests.realtime.test_socket_handshake import connect as socket_connect
from tests.support import Client

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


async def login(
    client: Client, name: str, agent: str | None = None, ip: str | None = None
) -> dict[str, Any]:
    headers = {"User-Agent": agent} if agent else {}
    if ip:
        headers["X-Forwarded-For"] = ip
    response = await client.post(
        "/api/auth/login", json={"login": name, "password": STRONG_PASSWORD}, headers=headers
    )
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


def login_id(pair: dict[str, Any]) -> str:
    return str(jwt.decode(pair["access_token"], options={"verify_signature": False})["sid"])


async def devices(client: Client, pair: dict[str, Any]) -> list[dict[str, Any]]:
    response = await client.get("/api/auth/sessions", headers=bearer(pair))
    assert response.status == 200, await response.text()
    listed: list[dict[str, Any]] = await response.json()
    return listed


async def wait_disconnected(sio: socketio.AsyncClient) -> bool:
    for _ in range(50):
        if not sio.connected:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_logins_are_listed_with_the_callers_own_marked(client: Client) -> None:
    first = await register(client, "dora")
    second = await login(client, "dora", FIREFOX)
    listed = await devices(client, second)
    assert {d["id"] for d in listed} == {login_id(first), login_id(second)}
    mine = next(d for d in listed if d["current"])
    assert mine["id"] == login_id(second)
    assert mine["user_agent"] == FIREFOX and mine["device"] == "Firefox on Linux"
    assert mine["ip"] == "127.0.0.1"
    assert set(mine) >= {"id", "user_agent", "ip", "created_at", "last_used_at", "current"}
    assert [d["current"] for d in await devices(client, first)].count(True) == 1
    # A refresh keeps the login (same id) and moves its last use.
    before = next(d for d in listed if d["id"] == login_id(first))["last_used_at"]
    refreshed = await client.post(
        "/api/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    pair = await refreshed.json()
    assert login_id(pair) == login_id(first)
    after = next(d for d in await devices(client, pair) if d["current"])
    assert after["id"] == login_id(first) and after["last_used_at"] > before
    # A logged-out login is no longer listed.
    await client.post("/api/auth/logout", json={"refresh_token": pair["refresh_token"]})
    assert [d["id"] for d in await devices(client, second)] == [login_id(second)]


async def test_ending_a_login_refuses_its_tokens_and_closes_its_sockets_at_once(
    client: Client, db: asyncpg.Connection
) -> None:
    stolen = await register(client, "eve_target")
    mine = await login(client, "eve_target", FIREFOX)
    stolen_socket = await socket_connect(client, stolen["access_token"])
    my_socket = await socket_connect(client, mine["access_token"])

    ended = await client.delete(f"/api/auth/sessions/{login_id(stolen)}", headers=bearer(mine))
    assert ended.status == 204
    # Its access token (still within its 15 minutes) is refused on the very next request...
    refused = await client.get("/api/auth/me", headers=bearer(stolen))
    assert refused.status == 401
    assert (await refused.json())["error"]["code"] == "invalid_token"
    # ...its refresh token too, and its socket is closed; the other login is untouched.
    again = await client.post("/api/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
    assert again.status == 401
    assert await wait_disconnected(stolen_socket)
    assert my_socket.connected
    assert (await client.get("/api/auth/me", headers=bearer(mine))).status == 200
    assert [d["id"] for d in await devices(client, mine)] == [login_id(mine)]
    # A new socket with the ended login's token is refused.
    try:
        await socket_connect(client, stolen["access_token"])
        raise AssertionError("an ended login's token opened a socket")
    except socketio.exceptions.ConnectionError:
        pass
    await my_socket.disconnect()
    action = await db.fetchval(
        "SELECT action FROM audit_logs WHERE resource_id = $1", login_id(stolen)
    )
    assert action == "auth.login_ended"


async def test_another_persons_login_is_not_found(client: Client) -> None:
    alice, mallory = await register(client, "alice_dev"), await register(client, "mallory_dev")
    for target in (login_id(alice), str(uuid.uuid4()), "not-a-uuid"):
        response = await client.delete(f"/api/auth/sessions/{target}", headers=bearer(mallory))
        assert response.status == 404, target
        assert (await response.json())["error"]["code"] == "not_found"
    assert (await client.get("/api/auth/me", headers=bearer(alice))).status == 200
    # Nor does the list show another person's logins.
    assert [d["id"] for d in await devices(client, mallory)] == [login_id(mallory)]


async def test_ending_the_current_login_is_a_logout(client: Client) -> None:
    pair = await register(client, "selfend")
    response = await client.delete(f"/api/auth/sessions/{login_id(pair)}", headers=bearer(pair))
    assert response.status == 204
    assert (await client.get("/api/auth/me", headers=bearer(pair))).status == 401
    again = await client.delete(f"/api/auth/sessions/{login_id(pair)}", headers=bearer(pair))
    assert again.status == 401


async def test_logging_out_closes_that_logins_sockets_only(client: Client) -> None:
    first = await register(client, "twotabs")
    second = await login(client, "twotabs")
    one = await socket_connect(client, first["access_token"])
    two = await socket_connect(client, second["access_token"])
    await client.post("/api/auth/logout", json={"refresh_token": first["refresh_token"]})
    assert await wait_disconnected(one)
    assert two.connected
    assert (await client.get("/api/auth/me", headers=bearer(first))).status == 401
    await two.disconnect()


async def test_a_replayed_refresh_token_ends_its_login_and_its_access_tokens(
    client: Client, db: asyncpg.Connection
) -> None:
    pair = await register(client, "replayed")
    response = await client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    fresh = await response.json()
    # Past the grace period, the spent token comes back (a thief): the family is revoked.
    await db.execute(
        "UPDATE refresh_tokens SET used_at = now() - interval '1 hour' WHERE used_at IS NOT NULL"
    )
    replay = await client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert replay.status == 401
    assert (await client.get("/api/auth/me", headers=bearer(fresh))).status == 401


# -- the new-device notice ------------------------------------------------------------------


def notices(mails: list[dict[str, str]]) -> list[dict[str, str]]:
    return [m for m in mails if m["subject"] == "New login to your account"]


async def test_a_login_from_a_new_device_mails_a_notice(make_client: Any, tmp_path: Path) -> None:
    client = await make_client(trusted_proxies="127.0.0.1/32")
    await register(client, "nora")  # the first login: nothing to compare with, no notice
    await login(client, "nora")  # the same device again
    assert notices(await outbox(client, tmp_path)) == []

    await login(client, "nora", FIREFOX, ip="203.0.113.7")
    sent = notices(await outbox(client, tmp_path))
    assert len(sent) == 1 and sent[0]["to"] == "nora@example.org"
    assert "Firefox on Linux" in sent[0]["body"] and "203.0.113.7" in sent[0]["body"]
    assert "/settings/security" in sent[0]["body"]

    # The same browser family on the same /24, a newer version: the same device.
    newer = FIREFOX.replace("128.0", "129.0")
    await login(client, "nora", newer, ip="203.0.113.99")
    assert len(notices(await outbox(client, tmp_path))) == 1
    # Another network, or another browser: new devices.
    await login(client, "nora", FIREFOX, ip="198.51.100.7")
    await login(client, "nora", CHROME_MAC, ip="203.0.113.7")
    sent = notices(await outbox(client, tmp_path))
    assert len(sent) == 3 and "Chrome on macOS" in sent[-1]["body"]


async def test_devices_are_stored_hashed(client: Client, db: asyncpg.Connection) -> None:
    await register(client, "hashme")
    await login(client, "hashme", FIREFOX)
    rows = await db.fetch("SELECT * FROM known_devices")
    assert len(rows) == 2
    for row in rows:
        assert len(row["device_hash"]) == 64
        assert "Firefox" not in str(dict(row)) and "127.0.0" not in str(dict(row))


async def test_an_access_token_from_before_logins_were_named_still_works(
    client: Client,
) -> None:
    """Tokens issued before this change carry no `sid`: accepted for their few minutes."""
    from collab.state import SIGNING_KEYS

    pair = await register(client, "oldtoken")
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    del claims["sid"]
    keys = client.app[SIGNING_KEYS]
    token = jwt.encode(claims, keys.current, algorithm="HS256", headers={"kid": keys.current_kid})
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status == 200
    # A made-up `sid` is refused: no such login.
    claims["sid"] = str(uuid.uuid4())
    forged = jwt.encode(claims, keys.current, algorithm="HS256", headers={"kid": keys.current_kid})
    refused = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert refused.status == 401


@pytest.mark.parametrize(
    ("user_agent", "name"),
    [
        (FIREFOX, "Firefox on Linux"),
        (CHROME_MAC, "Chrome on macOS"),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/126.0.0.0 Safari/537.36",
            "Chrome on Linux",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        ("curl/8.5.0", "curl"),
        ("", "an unknown device"),
        (None, "an unknown device"),
    ],
)
def test_devices_are_named_by_browser_family_and_system(user_agent: str | None, name: str) -> None:
    assert device_name(user_agent) == name


def test_a_device_is_the_browser_family_and_the_network() -> None:
    user = uuid.uuid4()
    same = device_hash(user, ClientInfo("203.0.113.7", FIREFOX))
    assert device_hash(user, ClientInfo("203.0.113.200", FIREFOX.replace("128", "130"))) == same
    assert device_hash(user, ClientInfo("203.0.114.7", FIREFOX)) != same
    assert device_hash(user, ClientInfo("203.0.113.7", CHROME_MAC)) != same
    assert device_hash(uuid.uuid4(), ClientInfo("203.0.113.7", FIREFOX)) != same
    v6 = device_hash(user, ClientInfo("2001:db8:1:2::1", FIREFOX))
    assert device_hash(user, ClientInfo("2001:db8:1:2:ffff::9", FIREFOX)) == v6
    assert device_hash(user, ClientInfo("2001:db8:1:3::1", FIREFOX)) != v6


async def test_a_new_device_behind_the_two_factor_step_gets_the_notice_once_verified(
    client: Client, tmp_path: Path
) -> None:
    from tests.mfa_support import enable_totp

    pair = await register(client, "tina")
    authenticator, _ = await enable_totp(client, pair)
    step = await client.post(
        "/api/auth/login",
        json={"login": "tina", "password": STRONG_PASSWORD},
        headers={"User-Agent": FIREFOX},
    )
    body = await step.json()
    assert body["mfa_required"] is True
    # The password alone proves no login: no notice yet.
    assert notices(await outbox(client, tmp_path)) == []
    verified = await client.post(
        "/api/auth/mfa/verify",
        json={"mfa_token": body["mfa_token"], "code": authenticator.next_code()},
        headers={"User-Agent": FIREFOX},
    )
    assert verified.status == 200, await verified.text()
    sent = notices(await outbox(client, tmp_path))
    assert len(sent) == 1 and "Firefox on Linux" in sent[0]["body"]
    # And the login is listed, as the caller's own.
    listed = await devices(client, await verified.json())
    assert [d["device"] for d in listed if d["current"]] == ["Firefox on Linux"]
