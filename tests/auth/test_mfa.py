"""Two-factor login (TOTP) over HTTP, with real codes computed here (pyotp), and the
attacks on it: an MFA token used as an access token (REST and Socket.IO), code replay,
brute force of codes, a spent MFA token, and provider logins that must take the step too."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pyotp
import pytest
import socketio
from aiohttp import ClientSession

from tests.accounts_support import STRONG_PASSWORD, bearer, confirm_email, register
from tests.auth.test_oauth import at_provider
from tests.mfa_support import Authenticator, enable_totp, password_login
from tests.oauth_standin import CLIENT_ID, CLIENT_SECRET, Account, StandIn
from tests.realtime.test_socket_handshake import release
from tests.support import Client


async def verify(client: Client, mfa_token: str, **proof: str) -> Any:
    return await client.post("/api/auth/mfa/verify", json={"mfa_token": mfa_token, **proof})


async def test_enrol_confirm_then_login_needs_a_code(client: Client, database_url: str) -> None:
    pair = await register(client, "alice")
    status = await client.get("/api/auth/mfa", headers=bearer(pair))
    assert await status.json() == {"totp_enabled": False, "recovery_codes_left": 0}

    enrol = await client.post("/api/auth/mfa/totp", headers=bearer(pair))
    assert enrol.status == 200 and enrol.headers["Cache-Control"] == "no-store"
    body = await enrol.json()
    secret = body["secret"]
    uri = urlsplit(body["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert parse_qs(uri.query)["secret"] == [secret]
    assert body["qr_svg"].startswith("<svg") and "</svg>" in body["qr_svg"]
    # A new enrolment replaces an unconfirmed one: only the latest secret confirms.
    again = await (await client.post("/api/auth/mfa/totp", headers=bearer(pair))).json()
    assert again["secret"] != secret
    stale = Authenticator(secret)
    refused = await client.post(
        "/api/auth/mfa/totp/confirm", headers=bearer(pair), json={"code": stale.next_code()}
    )
    assert refused.status == 422 and "code" in (await refused.json())["error"]["details"]
    app = Authenticator(again["secret"])

    # Sealed at rest: the secret appears nowhere in the row.
    conn = await asyncpg.connect(database_url)
    try:
        stored = await conn.fetchval("SELECT secret_sealed::text FROM user_totp")
        assert app.secret not in stored and "ciphertext" in stored
    finally:
        await conn.close()

    confirm = await client.post(
        "/api/auth/mfa/totp/confirm", headers=bearer(pair), json={"code": app.next_code()}
    )
    assert confirm.status == 200
    codes = (await confirm.json())["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    status = await client.get("/api/auth/mfa", headers=bearer(pair))
    assert await status.json() == {"totp_enabled": True, "recovery_codes_left": 10}
    conflict = await client.post("/api/auth/mfa/totp", headers=bearer(pair))
    assert conflict.status == 409

    step = await password_login(client, "alice", STRONG_PASSWORD)
    assert step["mfa_required"] is True and set(step) == {"mfa_required", "mfa_token"}
    done = await verify(client, step["mfa_token"], code=app.next_code())
    assert done.status == 200, await done.text()
    tokens = await done.json()
    assert tokens["user"]["username"] == "alice" and tokens["refresh_token"]
    assert (await client.get("/api/auth/me", headers=bearer(tokens))).status == 200


async def test_a_code_is_accepted_once(client: Client) -> None:
    """Replay: the code that confirmed enrolment, or a login's code, never works again."""
    pair = await register(client, "replay")
    enrol = await (await client.post("/api/auth/mfa/totp", headers=bearer(pair))).json()
    app = Authenticator(enrol["secret"])
    code = app.next_code()
    confirmed = await client.post(
        "/api/auth/mfa/totp/confirm", headers=bearer(pair), json={"code": code}
    )
    assert confirmed.status == 200
    step = await password_login(client, "replay", STRONG_PASSWORD)
    replayed = await verify(client, step["mfa_token"], code=code)
    assert replayed.status == 422
    # An earlier step than the last one used is refused too.
    earlier = pyotp.TOTP(app.secret).at((app.last_step - 1) * 30)
    assert (await verify(client, step["mfa_token"], code=earlier)).status == 422
    fresh = app.next_code()
    assert (await verify(client, step["mfa_token"], code=fresh)).status == 200
    second = await password_login(client, "replay", STRONG_PASSWORD)
    assert (await verify(client, second["mfa_token"], code=fresh)).status == 422


async def test_recovery_codes_are_single_use_and_regenerating_spends_the_old(
    client: Client,
) -> None:
    pair = await register(client, "recover")
    app, codes = await enable_totp(client, pair)
    step = await password_login(client, "recover", STRONG_PASSWORD)
    # Typed in upper case, without the dash: the same code.
    typed = codes[0].replace("-", "").upper()
    used = await verify(client, step["mfa_token"], recovery_code=typed)
    assert used.status == 200
    tokens = await used.json()
    status = await (await client.get("/api/auth/mfa", headers=bearer(tokens))).json()
    assert status["recovery_codes_left"] == 9

    step = await password_login(client, "recover", STRONG_PASSWORD)
    assert (await verify(client, step["mfa_token"], recovery_code=codes[0])).status == 422

    regenerated = await client.post(
        "/api/auth/mfa/recovery-codes", headers=bearer(tokens), json={"code": app.next_code()}
    )
    assert regenerated.status == 200
    new_codes = (await regenerated.json())["recovery_codes"]
    assert len(new_codes) == 10 and not set(new_codes) & set(codes)
    assert (await verify(client, step["mfa_token"], recovery_code=codes[1])).status == 422
    assert (await verify(client, step["mfa_token"], recovery_code=new_codes[0])).status == 200


async def test_exactly_one_proof_is_sent(client: Client) -> None:
    pair = await register(client, "proofs")
    await enable_totp(client, pair)
    step = await password_login(client, "proofs", STRONG_PASSWORD)
    neither = await verify(client, step["mfa_token"])
    both = await verify(client, step["mfa_token"], code="123456", recovery_code="abcde-fghij")
    assert (neither.status, both.status) == (422, 422)


async def test_the_mfa_token_is_no_access_token_on_rest_or_socket(client: Client) -> None:
    pair = await register(client, "mallory")
    await enable_totp(client, pair)
    step = await password_login(client, "mallory", STRONG_PASSWORD)
    mfa_token = step["mfa_token"]
    for path in ("/api/auth/me", "/api/auth/mfa", "/api/sessions"):
        response = await client.get(path, headers={"Authorization": f"Bearer {mfa_token}"})
        assert response.status == 401, path
        assert (await response.json())["error"]["code"] == "invalid_token"
    refused = await client.post(
        "/api/auth/mfa/totp", headers={"Authorization": f"Bearer {mfa_token}"}
    )
    assert refused.status == 401

    errors: list[Any] = []
    sio = socketio.AsyncClient(reconnection=False)
    sio.on("connect_error", lambda data: errors.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(
            str(client.make_url("/")),
            auth={"token": mfa_token},
            transports=["websocket"],
            wait_timeout=5,
        )
    await release(sio)
    assert errors == [{"message": "unauthorized"}]

    # Nor is an access token an MFA token.
    assert (await verify(client, pair["access_token"], code="123456")).status == 401


async def test_the_mfa_token_is_single_use(client: Client) -> None:
    pair = await register(client, "once")
    app, codes = await enable_totp(client, pair)
    step = await password_login(client, "once", STRONG_PASSWORD)
    assert (await verify(client, step["mfa_token"], code=app.next_code())).status == 200
    again = await verify(client, step["mfa_token"], recovery_code=codes[0])
    assert again.status == 401
    assert (await again.json())["error"]["code"] == "invalid_token"


async def test_brute_force_of_codes_is_slowed_down(client: Client, database_url: str) -> None:
    pair = await register(client, "brute")
    app, _ = await enable_totp(client, pair)
    step = await password_login(client, "brute", STRONG_PASSWORD)
    statuses = [
        (await verify(client, step["mfa_token"], code=app.wrong_code())).status for _ in range(5)
    ]
    assert statuses == [422] * 5
    # The account is slowed down now, like after wrong passwords: the next try is refused
    # before any code is looked at, and so is a fresh login (which would reset nothing).
    slowed = await verify(client, step["mfa_token"], code=app.next_code())
    assert slowed.status == 429 and int(slowed.headers["Retry-After"]) >= 1
    login = await client.post(
        "/api/auth/login", json={"login": "brute@example.org", "password": STRONG_PASSWORD}
    )
    assert login.status == 429
    conn = await asyncpg.connect(database_url)
    try:
        failed = await conn.fetchval(
            "SELECT count(*) FROM audit_logs WHERE action = 'auth.mfa_failed'"
        )
        assert failed == 5
    finally:
        await conn.close()


async def test_the_mfa_tokens_own_budget(client: Client, clean_redis: str) -> None:
    """Five tries per MFA token, whatever the account's slow-down says."""
    from redis.asyncio import Redis

    pair = await register(client, "budget")
    app, _ = await enable_totp(client, pair)
    step = await password_login(client, "budget", STRONG_PASSWORD)
    redis = Redis.from_url(clean_redis)
    try:
        for _ in range(5):
            assert (await verify(client, step["mfa_token"], code=app.wrong_code())).status == 422
            await redis.delete(*[k async for k in redis.scan_iter("lf:*")])
        spent = await verify(client, step["mfa_token"], code=app.next_code())
        assert spent.status == 401
    finally:
        await redis.aclose()


async def test_turning_off_needs_a_code_or_the_password(client: Client) -> None:
    pair = await register(client, "off")
    app, _ = await enable_totp(client, pair)
    wrong = await client.delete(
        "/api/auth/mfa/totp", headers=bearer(pair), json={"password": "Wrong-Password-1"}
    )
    assert wrong.status == 422
    nothing = await client.delete("/api/auth/mfa/totp", headers=bearer(pair), json={})
    assert nothing.status == 422
    off = await client.delete(
        "/api/auth/mfa/totp", headers=bearer(pair), json={"code": app.next_code()}
    )
    assert off.status == 204
    status = await (await client.get("/api/auth/mfa", headers=bearer(pair))).json()
    assert status == {"totp_enabled": False, "recovery_codes_left": 0}
    login = await password_login(client, "off", STRONG_PASSWORD)
    assert "access_token" in login and "mfa_required" not in login

    # On again, then off with the password.
    await enable_totp(client, pair)
    off = await client.delete(
        "/api/auth/mfa/totp", headers=bearer(pair), json={"password": STRONG_PASSWORD}
    )
    assert off.status == 204


async def test_a_browser_gets_its_refresh_token_as_a_cookie(client: Client) -> None:
    pair = await register(client, "webby")
    app, _ = await enable_totp(client, pair)
    step = await password_login(client, "webby", STRONG_PASSWORD)
    done = await client.post(
        "/api/auth/mfa/verify",
        json={"mfa_token": step["mfa_token"], "code": app.next_code()},
        headers={"X-Collab-Client": "web"},
    )
    assert done.status == 200
    body = await done.json()
    assert "refresh_token" not in body and body["access_token"]
    assert "collab_refresh=" in done.headers.get("Set-Cookie", "")


async def test_every_change_is_audited(client: Client, database_url: str) -> None:
    pair = await register(client, "audited")
    app, _ = await enable_totp(client, pair)
    await client.post(
        "/api/auth/mfa/recovery-codes", headers=bearer(pair), json={"code": app.next_code()}
    )
    await client.delete(
        "/api/auth/mfa/totp", headers=bearer(pair), json={"password": STRONG_PASSWORD}
    )
    conn = await asyncpg.connect(database_url)
    try:
        actions = [
            r["action"]
            for r in await conn.fetch(
                "SELECT action FROM audit_logs WHERE action LIKE 'auth.%' ORDER BY log_id"
            )
        ]
    finally:
        await conn.close()
    assert actions == [
        "auth.mfa_enrolment_started",
        "auth.mfa_enabled",
        "auth.recovery_codes_regenerated",
        "auth.mfa_disabled",
    ]


# -- provider logins ------------------------------------------------------------------------


async def provider_callback(client: Client, who: str) -> str:
    start = await client.get("/api/auth/oauth/github/authorize", allow_redirects=False)
    callback = await at_provider(start.headers["Location"], who)
    return f"{callback.path}?{callback.query}"


async def test_a_provider_login_goes_through_the_step(
    oauth_client: Client, standin: StandIn, tmp_path: Path
) -> None:
    pair = await register(oauth_client, "octo")
    await confirm_email(oauth_client, tmp_path, "octo@example.org")
    standin.accounts["octo"] = Account("77", "octo", "octo@example.org", verified=True)
    app, _ = await enable_totp(oauth_client, pair)

    # A JSON client: the step in the body, no tokens.
    done = await oauth_client.get(await provider_callback(oauth_client, "octo"))
    assert done.status == 200
    step = await done.json()
    assert step["mfa_required"] is True and "access_token" not in step
    tokens = await verify(oauth_client, step["mfa_token"], code=app.next_code())
    assert tokens.status == 200
    assert (await tokens.json())["user"]["user_id"] == pair["user"]["user_id"]

    # A browser navigation: to the login page with the token in the fragment, no cookie.
    browser = await oauth_client.get(
        await provider_callback(oauth_client, "octo"),
        headers={"Accept": "text/html"},
        allow_redirects=False,
    )
    assert browser.status == 302
    target = urlsplit(browser.headers["Location"])
    assert (target.path, target.query) == ("/login", "")
    mfa_token = parse_qs(target.fragment)["mfa_token"][0]
    assert "Set-Cookie" not in browser.headers
    assert (await verify(oauth_client, mfa_token, code=app.next_code())).status == 200


async def test_a_provider_login_with_a_front_end_redirects_to_its_login_page(
    make_client: Any, standin: StandIn, tmp_path: Path
) -> None:
    client = await make_client(
        github_client_id=CLIENT_ID,
        github_client_secret=CLIENT_SECRET,
        github_url=standin.base_url,
        github_api_url=f"{standin.base_url}/api",
        frontend_url="https://ide.example.com",
    )
    pair = await register(client, "front")
    await confirm_email(client, tmp_path, "front@example.org")
    standin.accounts["front"] = Account("78", "front", "front@example.org", verified=True)
    await enable_totp(client, pair)
    async with ClientSession():
        done = await client.get(await provider_callback(client, "front"), allow_redirects=False)
    assert done.status == 302
    target = urlsplit(done.headers["Location"])
    assert (target.netloc, target.path, target.query) == ("ide.example.com", "/login", "")
    fragment = parse_qs(target.fragment)
    assert set(fragment) == {"mfa_token"}
