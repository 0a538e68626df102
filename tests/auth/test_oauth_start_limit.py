"""Starting provider logins is rate limited per client network.

Each `GET /api/auth/oauth/{provider}/authorize` stores a state row (10 minutes) and, for an
OIDC issuer, may call it; nothing limited how many one client could start, so a loop grew
`oauth_states` by one row a request."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.oauth_standin import CLIENT_ID, CLIENT_SECRET
from tests.support import Client


async def test_a_flood_of_login_starts_is_refused_with_retry_after(
    make_client: Any, database_url: str
) -> None:
    client: Client = await make_client(
        github_client_id=CLIENT_ID, github_client_secret=CLIENT_SECRET
    )
    statuses = []
    for _ in range(40):
        response = await client.get("/api/auth/oauth/github/authorize", allow_redirects=False)
        statuses.append(response.status)
    assert statuses[:30] == [302] * 30, statuses
    assert set(statuses[30:]) == {429}, statuses
    assert int(response.headers["Retry-After"]) >= 1
    assert (await response.json())["error"]["code"] == "rate_limited"
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM oauth_states") == 30
    finally:
        await conn.close()
