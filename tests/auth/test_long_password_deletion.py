"""A password registration accepts is accepted wherever the account asks for it.

Passwords may be up to 1,024 characters (long passphrases are welcome); `DELETE
/api/auth/me` capped its `password` at 1,000, so the owner of a longer one could never
delete their account (422 on a correct password)."""

from __future__ import annotations

import pytest

from tests.accounts_support import bearer
from tests.support import Client


@pytest.mark.parametrize("length", [1001, 1024])
async def test_the_owner_of_a_long_password_can_delete_their_account(
    client: Client, length: int
) -> None:
    password = ("Aa1-" + "x" * length)[:length]
    registered = await client.post(
        "/api/auth/register",
        json={"email": "long@example.org", "username": "long", "password": password},
    )
    assert registered.status == 201, await registered.text()
    pair = await registered.json()
    deleted = await client.delete("/api/auth/me", headers=bearer(pair), json={"password": password})
    assert deleted.status == 202, await deleted.text()
