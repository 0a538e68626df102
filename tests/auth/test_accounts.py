"""Accounts over HTTP: register, log in, refresh, log out, profile, verification, reset."""

from __future__ import annotations

import asyncio
import datetime
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.accounts_support import STRONG_PASSWORD, bearer, link_token, outbox, register
from tests.support import Client


async def test_register_returns_a_token_pair_and_mails_a_verification_link(
    client: Client, tmp_path: Path
) -> None:
    pair = await register(client, "alice")
    assert pair["token_type"] == "Bearer" and pair["expires_in"] == 900
    assert len(pair["refresh_token"]) >= 43  # 256 random bits
    user = pair["user"]
    assert user["email"] == "alice@example.org" and user["email_verified"] is False
    assert not {"password_hash", "password", "oauth_provider_id"} & set(user)

    me = await client.get("/api/auth/me", headers=bearer(pair))
    assert me.status == 200 and (await me.json())["username"] == "alice"

    [mail] = await outbox(client, tmp_path)
    assert mail["to"] == "alice@example.org"
    assert "http://127.0.0.1:8000/verify-email?token=" in mail["body"]


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"username": "ab"}, "username", "3 to 50"),
        ({"username": "bad name!"}, "username", "3 to 50"),
        ({"password": "short1A"}, "password", "at least 8"),
        ({"password": "alllowercase1"}, "password", "upper-case"),
        ({"password": "Password1"}, "password", "most common"),
        ({"password": 12345678}, "password", "valid string"),
        ({"admin": True}, "admin", "not permitted"),
    ],
)
async def test_register_names_each_invalid_field(
    client: Client, body: dict[str, Any], field: str, reason: str
) -> None:
    payload = {"email": "bob@example.org", "username": "bob", "password": STRONG_PASSWORD} | body
    response = await client.post("/api/auth/register", json=payload)
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["code"] == "validation_failed"
    assert reason in error["details"][field]


async def test_long_passphrases_are_accepted(client: Client) -> None:
    passphrase = "Tr0ub4dor " * 10  # 100 characters
    await register(client, "carol", passphrase)
    login = await client.post("/api/auth/login", json={"login": "carol", "password": passphrase})
    assert login.status == 200


async def test_length_policy_drops_composition_but_keeps_common_list(make_client: Any) -> None:
    client = await make_client(password_policy="length")
    await register(client, "dora", "all lowercase words")
    response = await client.post(
        "/api/auth/register",
        json={"email": "e@example.org", "username": "erin", "password": "iloveyou"},
    )
    assert (await response.json())["error"]["details"]["password"].startswith("is one of")


async def test_email_and_username_are_unique_case_insensitively(client: Client) -> None:
    await register(client, "frank")
    for payload in (
        {"email": "FRANK@example.org", "username": "frank2"},
        {"email": "frank2@example.org", "username": "Frank"},
    ):
        response = await client.post(
            "/api/auth/register", json=payload | {"password": STRONG_PASSWORD}
        )
        assert response.status == 409
        assert (await response.json())["error"]["code"] == "conflict"


async def test_login_by_email_or_username_and_last_login_kept(
    client: Client, db: asyncpg.Connection
) -> None:
    await register(client, "gina")
    await db.execute("UPDATE users SET last_login = NULL")
    for login in ("gina", "GINA@example.org"):
        response = await client.post(
            "/api/auth/login", json={"login": login, "password": STRONG_PASSWORD}
        )
        assert response.status == 200
        assert (await response.json())["user"]["last_login"] is not None
    assert await db.fetchval("SELECT last_login IS NOT NULL FROM users") is True


async def test_wrong_password_and_unknown_user_look_the_same(client: Client) -> None:
    await register(client, "hank")
    wrong = await client.post("/api/auth/login", json={"login": "hank", "password": "Nope-12345"})
    unknown = await client.post(
        "/api/auth/login", json={"login": "nobody", "password": "Nope-12345"}
    )
    assert wrong.status == unknown.status == 401
    assert await wrong.json() == await unknown.json()
    assert (await wrong.json())["error"]["code"] == "invalid_credentials"


async def test_login_timing_does_not_reveal_whether_the_account_exists(client: Client) -> None:
    await register(client, "ivan")

    async def timed(login: str) -> float:
        start = time.perf_counter()
        response = await client.post(
            "/api/auth/login", json={"login": login, "password": "X-wrong-1"}
        )
        assert response.status == 401
        return time.perf_counter() - start

    known, unknown = [], []
    for i in range(4):  # stays under the 5 free failures per account
        known.append(await timed("ivan"))
        unknown.append(await timed(f"ghost{i}"))
    ratio = statistics.median(known) / statistics.median(unknown)
    assert 0.5 < ratio < 2.0, (known, unknown)


async def test_refresh_rotates_and_two_tabs_get_the_same_new_token(client: Client) -> None:
    pair = await register(client, "jane")
    first, second = await asyncio.gather(
        client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}),
        client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}),
    )
    assert first.status == second.status == 200
    new_a, new_b = (await first.json())["refresh_token"], (await second.json())["refresh_token"]
    assert new_a == new_b != pair["refresh_token"]
    again = await client.post("/api/auth/refresh", json={"refresh_token": new_a})
    assert again.status == 200


async def test_reusing_a_spent_refresh_token_revokes_the_family(
    make_client: Any, database_url: str
) -> None:
    client = await make_client(refresh_grace_seconds=0)
    pair = await register(client, "kate")
    rotated = await (
        await client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    ).json()
    await asyncio.sleep(0.05)
    replay = await client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert replay.status == 401
    assert (await replay.json())["error"]["code"] == "token_reused"
    # The thief's and the owner's successor die together.
    victim = await client.post(
        "/api/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert victim.status == 401
    conn = await asyncpg.connect(database_url)
    try:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM audit_logs WHERE action = 'token.reuse_detected'"
            )
            == 1
        )
    finally:
        await conn.close()


async def test_refresh_tokens_are_stored_only_as_hashes(
    client: Client, db: asyncpg.Connection
) -> None:
    pair = await register(client, "liam")
    stored = await db.fetch("SELECT token_hash, device_info FROM refresh_tokens")
    assert [r["token_hash"] for r in stored] != [pair["refresh_token"]]
    assert pair["refresh_token"] not in str([dict(r) for r in stored])


async def test_logout_ends_one_login_and_logout_all_ends_every_one(client: Client) -> None:
    pair = await register(client, "mia")
    other = await (
        await client.post("/api/auth/login", json={"login": "mia", "password": STRONG_PASSWORD})
    ).json()
    assert (
        await client.post("/api/auth/logout", json={"refresh_token": pair["refresh_token"]})
    ).status == 204
    assert (
        await client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    ).status == 401
    assert (
        await client.post("/api/auth/refresh", json={"refresh_token": other["refresh_token"]})
    ).status == 200

    third = await (
        await client.post("/api/auth/login", json={"login": "mia", "password": STRONG_PASSWORD})
    ).json()
    await asyncio.sleep(1.01)  # access tokens carry whole seconds
    assert (await client.post("/api/auth/logout-all", headers=bearer(third))).status == 204
    assert (
        await client.post("/api/auth/refresh", json={"refresh_token": third["refresh_token"]})
    ).status == 401
    me = await client.get("/api/auth/me", headers=bearer(third))
    assert me.status == 401  # the access token is cut off too


async def test_profile_update(client: Client) -> None:
    pair = await register(client, "nina")
    await register(client, "taken")
    response = await client.patch(
        "/api/auth/me",
        headers=bearer(pair),
        json={"first_name": "Nina", "profile_image_url": "https://img.example.org/n.png"},
    )
    assert response.status == 200
    assert (await response.json())["first_name"] == "Nina"
    clash = await client.patch("/api/auth/me", headers=bearer(pair), json={"username": "taken"})
    assert clash.status == 409
    sneaky = await client.patch("/api/auth/me", headers=bearer(pair), json={"email_verified": True})
    assert sneaky.status == 422
    bad_url = await client.patch(
        "/api/auth/me", headers=bearer(pair), json={"profile_image_url": "javascript:alert(1)"}
    )
    assert bad_url.status == 422


async def test_opening_the_verification_link_does_not_spend_it(
    client: Client, tmp_path: Path, db: asyncpg.Connection
) -> None:
    await register(client, "olga")
    [mail] = await outbox(client, tmp_path)
    token = link_token(mail["body"], "/verify-email")
    # The web app answers the mailed link; only its confirming POST spends the token.
    page = await client.get(f"/verify-email?token={token}")
    assert page.status == 200 and "text/html" in page.headers["Content-Type"]
    assert await db.fetchval("SELECT email_verified FROM users") is False

    confirmed = await client.post("/api/auth/verify-email", json={"token": token})
    assert confirmed.status == 200
    assert (await confirmed.json())["user"]["email_verified"] is True
    again = await client.post("/api/auth/verify-email", json={"token": token})
    assert again.status == 410


async def test_mailed_link_pages_never_reflect_the_token(client: Client) -> None:
    for path in ("/verify-email", "/reset-password"):
        page = await client.get(f'{path}?token="><script>alert(1)</script>')
        assert page.status == 200 and "text/html" in page.headers["Content-Type"]
        assert "alert(1)" not in await page.text()


async def test_expired_verification_link_is_gone(
    client: Client, tmp_path: Path, db: asyncpg.Connection
) -> None:
    await register(client, "paul")
    [mail] = await outbox(client, tmp_path)
    await db.execute("UPDATE account_tokens SET expires_at = now() - interval '1 second'")
    token = link_token(mail["body"], "/verify-email")
    response = await client.post("/api/auth/verify-email", json={"token": token})
    assert response.status == 410


async def test_password_reset_flow(client: Client, tmp_path: Path, db: asyncpg.Connection) -> None:
    pair = await register(client, "quinn")
    for email in ("quinn@example.org", "nobody@example.org"):
        response = await client.post("/api/auth/password/forgot", json={"email": email})
        assert response.status == 202
    mails = await outbox(client, tmp_path)
    assert [m["to"] for m in mails] == ["quinn@example.org", "quinn@example.org"]
    token = link_token(mails[-1]["body"], "/reset-password")
    assert await db.fetchval(
        "SELECT expires_at - created_at FROM account_tokens WHERE purpose = 'reset_password'"
    ) == datetime.timedelta(minutes=15)

    weak = await client.post("/api/auth/password/reset", json={"token": token, "password": "abc"})
    assert weak.status == 422
    done = await client.post(
        "/api/auth/password/reset", json={"token": token, "password": "New-Passw0rd-Here"}
    )
    assert done.status == 204
    assert (
        await client.post(
            "/api/auth/password/reset", json={"token": token, "password": "New-Passw0rd-Here2"}
        )
    ).status == 410
    old = await client.post("/api/auth/login", json={"login": "quinn", "password": STRONG_PASSWORD})
    assert old.status == 401
    new = await client.post(
        "/api/auth/login", json={"login": "quinn", "password": "New-Passw0rd-Here"}
    )
    assert new.status == 200
    stale = await client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert stale.status == 401


async def test_forgot_answers_alike_for_known_and_unknown_addresses(client: Client) -> None:
    await register(client, "rita")

    async def timed(email: str) -> tuple[float, Any]:
        start = time.perf_counter()
        response = await client.post("/api/auth/password/forgot", json={"email": email})
        return time.perf_counter() - start, (response.status, await response.json())

    # Interleaved, and the fastest of each compared: a loaded machine only adds time, so the
    # minimum is what the work itself takes (three each: the account's hourly limit).
    known, unknown = [], []
    for i in range(3):
        known.append(await timed("rita@example.org"))
        unknown.append(await timed(f"ghost{i}@example.org"))
    assert {k[1][0] for k in known + unknown} == {202}
    assert known[0][1] == unknown[0][1]
    ratio = min(k[0] for k in known) / min(u[0] for u in unknown)
    assert 0.33 < ratio < 3.0


async def test_links_use_the_configured_public_url_not_the_host_header(
    make_client: Any, tmp_path: Path
) -> None:
    client = await make_client(public_url="https://ide.example.com")
    await client.post(
        "/api/auth/register",
        headers={"Host": "evil.example.net", "X-Forwarded-Host": "evil.example.net"},
        json={"email": "sam@example.org", "username": "sam", "password": STRONG_PASSWORD},
    )
    [mail] = await outbox(client, tmp_path)
    assert "https://ide.example.com/verify-email?token=" in mail["body"]
    assert "evil" not in mail["body"]


async def test_passwords_are_argon2id_at_the_owasp_cost_and_upgraded_on_login(
    client: Client, db: asyncpg.Connection
) -> None:
    from argon2 import PasswordHasher

    await register(client, "tina")
    stored = await db.fetchval("SELECT password_hash FROM users")
    assert stored.startswith("$argon2id$") and "m=47104,t=1,p=1" in stored
    weak_hash = PasswordHasher(memory_cost=8192, time_cost=1, parallelism=1).hash(STRONG_PASSWORD)
    await db.execute("UPDATE users SET password_hash = $1", weak_hash)
    login = await client.post(
        "/api/auth/login", json={"login": "tina", "password": STRONG_PASSWORD}
    )
    assert login.status == 200
    assert "m=47104" in await db.fetchval("SELECT password_hash FROM users")


async def test_deactivated_users_cannot_log_in_or_refresh(client: Client) -> None:
    from collab.state import ACCOUNTS
    from kernel.context import ClientInfo

    pair = await register(client, "uma")
    await client.app[ACCOUNTS].set_active(
        uuid.UUID(pair["user"]["user_id"]), False, ClientInfo(None, None)
    )
    login = await client.post("/api/auth/login", json={"login": "uma", "password": STRONG_PASSWORD})
    assert login.status == 401
    refresh = await client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refresh.status == 401
    assert (await client.get("/api/auth/me", headers=bearer(pair))).status == 401


async def test_mail_goes_out_over_smtp_when_configured(make_client: Any) -> None:
    from aiosmtpd.controller import Controller

    from tests.support import free_port

    received: list[Any] = []

    class Collect:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    port = free_port()
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        client = await make_client(smtp_url=f"smtp://127.0.0.1:{port}")
        await register(client, "vera")
        from collab.state import TASKS

        await client.app[TASKS].drain()
    finally:
        controller.stop()
    [envelope] = received
    assert envelope.rcpt_tos == ["vera@example.org"]
    assert b"/verify-email?token=" in envelope.content


async def test_operators_deactivate_and_reactivate_from_the_command_line(
    client: Client, database_url: str, clean_redis: str, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    from tests.support import REPO, TEST_SECRET

    await register(client, "wendy")
    env = {
        **os.environ,
        "COLLAB_DATABASE_URL": database_url,
        "COLLAB_REDIS_URL": clean_redis,
        "COLLAB_SECRET_KEY": TEST_SECRET,
        "COLLAB_DATA_DIR": str(tmp_path),
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "collab", "users", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    done = await asyncio.to_thread(cli, "deactivate", "wendy@example.org")
    assert done.returncode == 0, done.stderr
    login = {"login": "wendy", "password": STRONG_PASSWORD}
    assert (await client.post("/api/auth/login", json=login)).status == 401
    assert (await asyncio.to_thread(cli, "activate", "wendy@example.org")).returncode == 0
    assert (await client.post("/api/auth/login", json=login)).status == 200
    assert (await asyncio.to_thread(cli, "deactivate", "nobody@example.org")).returncode == 1


@pytest.mark.parametrize(
    "column", ["expires_at", "absolute_expires_at"], ids=["sliding", "absolute"]
)
async def test_expired_refresh_tokens_are_refused(
    client: Client, db: asyncpg.Connection, column: str
) -> None:
    pair = await register(client, "xena")
    await db.execute(f"UPDATE refresh_tokens SET {column} = now() - interval '1 second'")
    response = await client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "token_expired"


async def test_refresh_slides_the_expiry_but_never_past_the_absolute_one(
    client: Client, db: asyncpg.Connection
) -> None:
    pair = await register(client, "yuri")
    await db.execute("UPDATE refresh_tokens SET absolute_expires_at = now() + interval '1 day'")
    rotated = await client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert rotated.status == 200
    row = await db.fetchrow(
        "SELECT expires_at, absolute_expires_at, device_info FROM refresh_tokens "
        "WHERE used_at IS NULL"
    )
    assert row["expires_at"] == row["absolute_expires_at"]  # capped: 14 idle days > 1 day left
    assert row["device_info"].startswith("Python")  # the client's user agent


async def test_forgot_is_limited_per_account_and_refresh_per_login(make_client: Any) -> None:
    client = await make_client(trusted_proxies="127.0.0.1/32")
    pair = await register(client, "zoe")
    statuses = [
        (await client.post("/api/auth/password/forgot", json={"email": "zoe@example.org"})).status
        for _ in range(4)
    ]
    assert statuses == [202, 202, 202, 429]
    # A normal chain of refreshes (a new token each time) is never limited...
    token = pair["refresh_token"]
    for _ in range(31):
        response = await client.post("/api/auth/refresh", json={"refresh_token": token})
        assert response.status == 200
        token = (await response.json())["refresh_token"]
    # ...but hammering one token is, whatever address it comes from.
    hammered = [
        (
            await client.post(
                "/api/auth/refresh",
                json={"refresh_token": token},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            )
        ).status
        for i in range(31)
    ]
    assert hammered[:30] == [200] * 30 and hammered[30] == 429
