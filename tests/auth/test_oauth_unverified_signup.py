"""No account is made from an address the provider has not verified.

Otherwise whoever holds that provider identity squats the address: its owner cannot sign up
(409), and after taking the account over with a password reset the squatter still logs in
to it through the provider (the "non-verifying identity provider" pre-hijacking)."""

from __future__ import annotations

import asyncpg

from tests.auth.test_oauth import login_with
from tests.oauth_standin import Account, StandIn
from tests.support import Client


async def test_a_provider_login_with_an_unverified_address_makes_no_account(
    oauth_client: Client, standin: StandIn, database_url: str
) -> None:
    standin.accounts["mallory"] = Account("66", "mallory", "victoria@example.org", verified=False)
    status, body = await login_with(oauth_client, "github", "mallory")
    assert (status, body["error"]["code"]) == (403, "forbidden"), body
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM users") == 0
    finally:
        await conn.close()
    # The address stays free for its owner.
    registered = await oauth_client.post(
        "/api/auth/register",
        json={"email": "victoria@example.org", "username": "vic", "password": "Victoria-Own-1"},
    )
    assert registered.status == 201
    # Once the provider verifies it, the same identity is an ordinary provider login.
    standin.accounts["octo"] = Account("67", "octo", "octo@example.org", verified=True)
    status, pair = await login_with(oauth_client, "github", "octo")
    assert status == 200 and pair["user"]["email_verified"] is True
