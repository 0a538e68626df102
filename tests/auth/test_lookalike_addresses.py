"""Look-alike addresses and usernames cannot pose as someone else's account.

Emails and usernames are NFKC-normalised before they are stored or compared, so a
fullwidth `alice` (U+FF41 ...) is `alice`: registering it is a 409, logging in with it finds
alice. An address whose local part (or a domain label) mixes scripts, such as Latin with a
Cyrillic `a` (U+0430), is refused (422 on `email`). Usernames are ASCII letters, digits
and underscore.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.accounts_support import STRONG_PASSWORD, bearer, outbox, register
from tests.support import Client

CYRILLIC_A = "\N{CYRILLIC SMALL LETTER A}"
GREEK_O = "\N{GREEK SMALL LETTER OMICRON}"


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) - 0x21 + 0xFF01) if "!" <= c <= "~" else c for c in text)


async def post(client: Client, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    response = await client.post(path, json=body)
    text = await response.text()
    return response.status, await response.json() if text else None


async def sign_up(client: Client, email: str, username: str) -> tuple[int, Any]:
    return await post(
        client,
        "/api/auth/register",
        {"email": email, "username": username, "password": STRONG_PASSWORD},
    )


async def test_a_fullwidth_address_is_the_same_address(
    client: Client, db: asyncpg.Connection
) -> None:
    alice = await register(client, "alice")
    for email in (fullwidth("alice") + "@example.org", fullwidth("alice@example.org")):
        status, body = await sign_up(client, email, "alice_again")
        assert status == 409, body
        assert body["error"]["code"] == "conflict" and "email" in body["error"]["details"]
    assert await db.fetchval("SELECT count(*) FROM users") == 1
    for login in (fullwidth("alice") + "@example.org", fullwidth("ALICE@EXAMPLE.ORG")):
        status, pair = await post(
            client, "/api/auth/login", {"login": login, "password": STRONG_PASSWORD}
        )
        assert status == 200, pair
        assert pair["user"]["user_id"] == alice["user"]["user_id"]


async def test_a_fullwidth_username_is_the_same_username(client: Client) -> None:
    alice = await register(client, "alice")
    status, body = await sign_up(client, "other@example.org", fullwidth("alice"))
    assert status == 409, body
    assert "username" in body["error"]["details"]
    status, pair = await post(
        client, "/api/auth/login", {"login": fullwidth("Alice"), "password": STRONG_PASSWORD}
    )
    assert status == 200 and pair["user"]["user_id"] == alice["user"]["user_id"]
    bob = await register(client, "bob")
    response = await client.patch(
        "/api/auth/me", json={"username": fullwidth("alice")}, headers=bearer(bob)
    )
    assert response.status == 409, await response.text()
    response = await client.patch(
        "/api/auth/me", json={"username": fullwidth("bobby")}, headers=bearer(bob)
    )
    assert response.status == 200 and (await response.json())["username"] == "bobby"


@pytest.mark.parametrize(
    "email",
    [
        f"{CYRILLIC_A}lice@example.org",  # a Cyrillic a among Latin letters
        f"b{GREEK_O}b@example.org",  # a Greek o among Latin letters
        f"alice@ex{CYRILLIC_A}mple.org",  # the same trick in a domain label
    ],
)
async def test_mixed_script_addresses_are_refused(
    client: Client, db: asyncpg.Connection, email: str
) -> None:
    await register(client, "alice")
    status, body = await sign_up(client, email, "lookalike")
    assert status == 422, body
    assert body["error"]["code"] == "validation_failed"
    assert "script" in body["error"]["details"]["email"]
    assert await db.fetchval("SELECT count(*) FROM users") == 1


@pytest.mark.parametrize(
    "email",
    [
        "пример@example.org",  # one script (Cyrillic) throughout the local part
        "山田たろう@example.jp",  # Han with Hiragana: written together
        "alice@пример.рф",  # a Latin local part at a Cyrillic domain, each label one script
    ],
)
async def test_single_script_international_addresses_are_welcome(
    client: Client, email: str
) -> None:
    status, body = await sign_up(client, email, "intl_user")
    assert status == 201, body
    assert body["user"]["email"] == email


@pytest.mark.parametrize(
    "username",
    [f"{CYRILLIC_A}lice", "ålice", "alice\n", "al ice", fullwidth("a")],
)
async def test_usernames_are_ascii_letters_digits_and_underscore(
    client: Client, username: str
) -> None:
    status, body = await sign_up(client, "someone@example.org", username)
    assert status == 422, body
    assert "username" in body["error"]["details"]


async def test_a_look_alike_login_cannot_dodge_the_failed_login_slow_down(
    client: Client,
) -> None:
    """Every spelling of an account counts against that one account."""
    await register(client, "alice")
    spellings = [fullwidth("alice")] + [
        "alice"[:i] + fullwidth("alice"[i]) + "alice"[i + 1 :] for i in range(4)
    ]
    for login in spellings:
        status, _ = await post(client, "/api/auth/login", {"login": login, "password": "Wrong-1x"})
        assert status == 401
    status, body = await post(
        client, "/api/auth/login", {"login": "alice", "password": STRONG_PASSWORD}
    )
    assert status == 429, body


async def test_forgot_password_with_a_fullwidth_address_mails_the_account(
    client: Client, tmp_path: Path
) -> None:
    await register(client, "alice")
    status, _ = await post(
        client, "/api/auth/password/forgot", {"email": fullwidth("alice") + "@example.org"}
    )
    assert status == 202
    assert [m["to"] for m in await outbox(client, tmp_path)][-1] == "alice@example.org"


async def test_ascii_accounts_behave_as_before(client: Client) -> None:
    status, body = await sign_up(client, "Carol.Smith+ide@Example.ORG", "Carol_1")
    assert status == 201, body
    assert (body["user"]["email"], body["user"]["username"]) == (
        "carol.smith+ide@example.org",
        "Carol_1",
    )
    for login in ("CAROL.SMITH+IDE@example.org", "carol_1"):
        status, _ = await post(
            client, "/api/auth/login", {"login": login, "password": STRONG_PASSWORD}
        )
        assert status == 200
