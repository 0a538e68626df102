"""Linking a provider identity to an existing account is audited.

The link adds a way to log in to the account (and marks its email verified); the audit
log, which records every state change, said only `user.login`, so the account's owner could
not see in their security events that GitHub now opens their account."""

from __future__ import annotations

from pathlib import Path

from tests.accounts_support import bearer, confirm_email, register
from tests.auth.test_oauth import login_with
from tests.oauth_standin import Account, StandIn
from tests.support import Client


async def test_linking_github_to_an_existing_account_is_a_security_event(
    oauth_client: Client, standin: StandIn, tmp_path: Path
) -> None:
    existing = await register(oauth_client, "octo")
    await confirm_email(oauth_client, tmp_path, "octo@example.org")  # else no link (409)
    standin.accounts["octo"] = Account("77", "octo", "octo@example.org", verified=True)
    status, pair = await login_with(oauth_client, "github", "octo")
    assert status == 200 and pair["user"]["user_id"] == existing["user"]["user_id"]

    events = await oauth_client.get("/api/auth/me/audit-logs", headers=bearer(pair))
    items = (await events.json())["items"]
    linked = [e for e in items if e["action"] == "auth.oauth_linked"]
    assert len(linked) == 1, [e["action"] for e in items]
    entry = linked[0]
    assert entry["user_id"] == existing["user"]["user_id"]
    assert entry["resource_type"] == "user"
    assert entry["new_value"] == {"oauth_provider": "github", "email_verified": True}

    # A later login through the same identity links nothing new.
    await login_with(oauth_client, "github", "octo")
    again = await oauth_client.get("/api/auth/me/audit-logs", headers=bearer(pair))
    actions = [e["action"] for e in (await again.json())["items"]]
    assert actions.count("auth.oauth_linked") == 1
