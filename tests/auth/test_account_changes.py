"""Password change (ends every other login and its sockets), email change confirmed by a
mailed link (a reused link is gone), and the verification mail sent again (rate limited)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from tests.accounts_support import STRONG_PASSWORD, bearer, link_token, outbox, register
from tests.mfa_support import password_login
from tests.realtime.test_socket_handshake import connect
from tests.support import Client

NEW_PASSWORD = "Another-Horse-8-Staple"


async def test_password_change_ends_every_other_login(client: Client) -> None:
    other = await register(client, "bob")  # a login on another device
    sio = await connect(client, other["access_token"])
    await asyncio.sleep(1.01)  # tokens carry whole seconds
    this = await password_login(client, "bob", STRONG_PASSWORD)

    async def change(current: str, new: str) -> int:
        response = await client.post(
            "/api/auth/password/change",
            headers=bearer(this),
            json={"current_password": current, "new_password": new},
        )
        return response.status

    assert await change("Wrong-Password-1", NEW_PASSWORD) == 422
    assert await change(STRONG_PASSWORD, "short") == 422
    assert await change(STRONG_PASSWORD, "bob") == 422  # policy: length, and not the username
    assert await change(STRONG_PASSWORD, NEW_PASSWORD) == 204

    # The other login is over: its refresh token, its access token and its socket.
    refreshed = await client.post(
        "/api/auth/refresh", json={"refresh_token": other["refresh_token"]}
    )
    assert refreshed.status == 401
    assert (await client.get("/api/auth/me", headers=bearer(other))).status == 401
    for _ in range(50):
        if not sio.connected:
            break
        await asyncio.sleep(0.1)
    assert not sio.connected

    # This login stays: its access token and its refresh token still work.
    assert (await client.get("/api/auth/me", headers=bearer(this))).status == 200
    kept = await client.post("/api/auth/refresh", json={"refresh_token": this["refresh_token"]})
    assert kept.status == 200
    assert (await client.get("/api/auth/me", headers=bearer(await kept.json()))).status == 200

    old = await client.post("/api/auth/login", json={"login": "bob", "password": STRONG_PASSWORD})
    assert old.status == 401
    await password_login(client, "bob", NEW_PASSWORD)


async def test_email_changes_only_when_the_new_address_confirms(
    client: Client, tmp_path: Path
) -> None:
    pair = await register(client, "carol")
    await register(client, "taken")

    async def ask(new_email: str, password: str) -> int:
        response = await client.post(
            "/api/auth/email/change",
            headers=bearer(pair),
            json={"new_email": new_email, "password": password},
        )
        return response.status

    assert await ask("carol.new@example.org", "Wrong-Password-1") == 422
    assert await ask("taken@example.org", STRONG_PASSWORD) == 409
    assert await ask("not-an-email", STRONG_PASSWORD) == 422
    assert await ask("carol.new@example.org", STRONG_PASSWORD) == 202

    mails = await outbox(client, tmp_path)
    to_new = [m for m in mails if m["to"] == "carol.new@example.org"]
    notice = [m for m in mails if m["to"] == "carol@example.org" and "change" in m["subject"]]
    assert len(to_new) == 1 and len(notice) == 1
    assert "carol.new@example.org" in notice[0]["body"]
    token = link_token(to_new[0]["body"], "/confirm-email")

    me = await (await client.get("/api/auth/me", headers=bearer(pair))).json()
    assert me["email"] == "carol@example.org"  # nothing changed yet

    confirmed = await client.post("/api/auth/email/confirm", json={"token": token})
    assert confirmed.status == 200
    user = (await confirmed.json())["user"]
    assert (user["email"], user["email_verified"]) == ("carol.new@example.org", True)
    await password_login(client, "carol.new@example.org", STRONG_PASSWORD)

    # The link is spent: reusing it is gone, not a second change.
    reused = await client.post("/api/auth/email/confirm", json={"token": token})
    assert reused.status == 410 and (await reused.json())["error"]["code"] == "gone"
    forged = await client.post("/api/auth/email/confirm", json={"token": "x" * 43})
    assert forged.status == 401


async def test_a_newer_email_change_voids_the_earlier_link(client: Client, tmp_path: Path) -> None:
    pair = await register(client, "dave")
    for address in ("dave1@example.org", "dave2@example.org"):
        response = await client.post(
            "/api/auth/email/change",
            headers=bearer(pair),
            json={"new_email": address, "password": STRONG_PASSWORD},
        )
        assert response.status == 202
    mails = {m["to"]: m for m in await outbox(client, tmp_path)}
    first = link_token(mails["dave1@example.org"]["body"], "/confirm-email")
    second = link_token(mails["dave2@example.org"]["body"], "/confirm-email")
    assert (await client.post("/api/auth/email/confirm", json={"token": first})).status == 401
    assert (await client.post("/api/auth/email/confirm", json={"token": second})).status == 200


async def test_verification_mail_can_be_sent_again_three_times_an_hour(
    client: Client, tmp_path: Path
) -> None:
    pair = await register(client, "erin")
    statuses = [
        (await client.post("/api/auth/verify-email/resend", headers=bearer(pair))).status
        for _ in range(4)
    ]
    assert statuses == [202, 202, 202, 429]
    verifications = [m for m in await outbox(client, tmp_path) if m["to"] == "erin@example.org"]
    assert len(verifications) == 4  # the one at registration and three more
    newest = link_token(verifications[-1]["body"], "/verify-email")
    oldest = link_token(verifications[0]["body"], "/verify-email")
    assert (await client.post("/api/auth/verify-email", json={"token": oldest})).status == 401
    assert (await client.post("/api/auth/verify-email", json={"token": newest})).status == 200


async def test_a_verified_address_needs_no_new_mail(client: Client, tmp_path: Path) -> None:
    pair = await register(client, "fay")
    [mail] = await outbox(client, tmp_path)
    token = link_token(mail["body"], "/verify-email")
    assert (await client.post("/api/auth/verify-email", json={"token": token})).status == 200
    again = await client.post("/api/auth/verify-email/resend", headers=bearer(pair))
    assert again.status == 409


async def test_changes_are_audited(client: Client, tmp_path: Path, database_url: str) -> None:
    pair = await register(client, "gus")
    await client.post(
        "/api/auth/email/change",
        headers=bearer(pair),
        json={"new_email": "gus2@example.org", "password": STRONG_PASSWORD},
    )
    mails = {m["to"]: m for m in await outbox(client, tmp_path)}
    token = link_token(mails["gus2@example.org"]["body"], "/confirm-email")
    await client.post("/api/auth/email/confirm", json={"token": token})
    await client.post(
        "/api/auth/password/change",
        headers=bearer(pair),
        json={"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD},
    )
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT action, old_value, new_value FROM audit_logs "
            "WHERE action LIKE 'auth.%' ORDER BY log_id"
        )
    finally:
        await conn.close()
    assert [r["action"] for r in rows] == [
        "auth.email_change_requested",
        "auth.email_changed",
        "auth.password_changed",
    ]
    changed = rows[1]
    assert '"gus@example.org"' in changed["old_value"]
    assert '"gus2@example.org"' in changed["new_value"]
