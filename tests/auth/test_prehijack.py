"""An account whose email was never confirmed is not linked to a provider login of that
address (account pre-hijacking): its owner proves the address with the mailed reset link
first, which also shuts out whoever registered it (their logins, API keys and pending
email change)."""

from __future__ import annotations

from pathlib import Path

from tests.accounts_support import link_token, outbox
from tests.auth.test_api_keys import create_key
from tests.auth.test_oauth import login_with
from tests.oauth_standin import Account, StandIn
from tests.support import Client


async def test_a_squatted_unconfirmed_account_is_not_handed_to_the_address_owner(
    oauth_client: Client, standin: StandIn, tmp_path: Path
) -> None:
    # Mallory registers Victoria's address with a password of his own; it is never confirmed.
    squat = await oauth_client.post(
        "/api/auth/register",
        json={"email": "victoria@example.org", "username": "vic", "password": "Mallory-Knows-1"},
    )
    assert squat.status == 201
    mallory_pair = await squat.json()
    # While he holds it, he makes an API key and asks to move the address to his own.
    key = await create_key(oauth_client, mallory_pair, ["read", "write"])
    moved = await oauth_client.post(
        "/api/auth/email/change",
        headers={"Authorization": f"Bearer {mallory_pair['access_token']}"},
        json={"new_email": "mallory@example.org", "password": "Mallory-Knows-1"},
    )
    assert moved.status == 202
    [change] = [m for m in await outbox(oauth_client, tmp_path) if "confirm-email" in m["body"]]
    change_token = link_token(change["body"], "/confirm-email")
    # Victoria, who owns the address (GitHub verified it), logs in with GitHub: refused, not
    # handed Mallory's account.
    standin.accounts["victoria"] = Account("31", "victoria", "victoria@example.org", verified=True)
    status, body = await login_with(oauth_client, "github", "victoria")
    assert status == 409, body
    assert body["error"]["details"] == {"email": "is not confirmed"}

    # The mailed reset link proves the address: Mallory's password and login end with it.
    forgot = await oauth_client.post(
        "/api/auth/password/forgot", json={"email": "victoria@example.org"}
    )
    assert forgot.status == 202, await forgot.text()
    mails = [m for m in await outbox(oauth_client, tmp_path) if "reset-password" in m["body"]]
    token = link_token(mails[-1]["body"], "/reset-password")
    reset = await oauth_client.post(
        "/api/auth/password/reset", json={"token": token, "password": "Victoria-Owns-2"}
    )
    assert reset.status in (200, 204), await reset.text()
    mallory = await oauth_client.post(
        "/api/auth/login", json={"login": "vic", "password": "Mallory-Knows-1"}
    )
    assert mallory.status == 401
    me = await oauth_client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {mallory_pair['access_token']}"}
    )
    assert me.status == 401
    # Neither his key nor his pending email change outlives the reset.
    by_key = await oauth_client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {key['key']}"}
    )
    assert by_key.status == 401
    confirmed = await oauth_client.post("/api/auth/email/confirm", json={"token": change_token})
    assert confirmed.status in (401, 410), await confirmed.text()

    # Now GitHub links to the account, whose address is confirmed.
    status, pair = await login_with(oauth_client, "github", "victoria")
    assert status == 200, pair
    assert pair["user"]["user_id"] == mallory_pair["user"]["user_id"]
    assert pair["user"]["email_verified"] is True
