"""The failed-login slow-down is the account's, whichever way it is named.

A person logs in with their email or their username. Password failures were counted under
the spelling typed, so an attacker alternating `alice` and `alice@example.org` had two
budgets of free tries and two slow-downs (wrong two-factor codes already counted under
both)."""

from __future__ import annotations

from tests.accounts_support import STRONG_PASSWORD, register
from tests.support import Client


async def _login(client: Client, login: str, password: str) -> int:
    response = await client.post("/api/auth/login", json={"login": login, "password": password})
    return response.status


async def test_failures_under_the_username_slow_down_the_email_too(client: Client) -> None:
    await register(client, "alice")
    for _ in range(5):
        assert await _login(client, "alice", "Wrong-pass-1") == 401
    assert await _login(client, "alice@example.org", STRONG_PASSWORD) == 429


async def test_failures_under_the_email_slow_down_the_username_too(client: Client) -> None:
    await register(client, "bob")
    for _ in range(5):
        assert await _login(client, "BOB@example.org", "Wrong-pass-1") == 401
    assert await _login(client, "Bob", STRONG_PASSWORD) == 429


async def test_alternating_spellings_gets_no_extra_free_tries(client: Client) -> None:
    await register(client, "carol")
    statuses = [
        await _login(client, login, "Wrong-pass-1") for login in ["carol", "carol@example.org"] * 3
    ]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429, statuses


async def test_an_unknown_login_is_slowed_down_like_a_known_one(client: Client) -> None:
    """No enumeration: the typed spelling still counts when no account has it."""
    statuses = [await _login(client, "nobody", "Wrong-pass-1") for _ in range(6)]
    assert statuses == [401] * 5 + [429]
