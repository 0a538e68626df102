"""Refresh tokens and logins that can never be used again are deleted.

Every refresh stores a new row (the spent one is kept for replay detection) and every login
a `logins` row; nothing ever removed them, so the tables grew by a row a request, forever.
A family past its absolute expiry is useless (no token of it refreshes, no access token of
it is accepted), so the hourly purge now removes it and its login."""

from __future__ import annotations

import asyncpg

from collab.lifecycle_wiring import LIFECYCLE
from tests.accounts_support import bearer, register
from tests.support import Client


async def test_families_past_their_absolute_expiry_are_pruned(
    client: Client, db: asyncpg.Connection
) -> None:
    old = await register(client, "old")
    for _ in range(3):  # three rotations: four rows in the old login's family
        response = await client.post(
            "/api/auth/refresh", json={"refresh_token": old["refresh_token"]}
        )
        assert response.status == 200
        old = {**old, **(await response.json())}
    current = await register(client, "current")
    old_id = old["user"]["user_id"]
    assert await db.fetchval("SELECT count(*) FROM refresh_tokens WHERE user_id = $1", old_id) == 4
    # The old login's family expired for good two days ago.
    await db.execute(
        """UPDATE refresh_tokens SET expires_at = now() - interval '2 days',
                                     absolute_expires_at = now() - interval '2 days',
                                     created_at = now() - interval '32 days'
           WHERE user_id = $1""",
        old_id,
    )
    await db.execute(
        "UPDATE logins SET created_at = now() - interval '32 days' WHERE user_id = $1", old_id
    )

    await client.app[LIFECYCLE].prune_credentials()

    assert await db.fetchval("SELECT count(*) FROM refresh_tokens WHERE user_id = $1", old_id) == 0
    assert await db.fetchval("SELECT count(*) FROM logins WHERE user_id = $1", old_id) == 0
    # The live login is untouched and still works.
    current_id = current["user"]["user_id"]
    assert await db.fetchval("SELECT count(*) FROM logins WHERE user_id = $1", current_id) == 1
    assert (await client.get("/api/auth/me", headers=bearer(current))).status == 200
    refreshed = await client.post(
        "/api/auth/refresh", json={"refresh_token": current["refresh_token"]}
    )
    assert refreshed.status == 200
    # The pruned login's refresh token is simply unknown now.
    gone = await client.post("/api/auth/refresh", json={"refresh_token": old["refresh_token"]})
    assert gone.status == 401
