"""Login with GitHub and Google (OIDC) against a local stand-in provider."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

import asyncpg
import pytest
from aiohttp import ClientSession

from tests.accounts_support import STRONG_PASSWORD, bearer, confirm_email, register
from tests.oauth_standin import CLIENT_ID, CLIENT_SECRET, Account, StandIn
from tests.support import Client


async def at_provider(location: str, who: str) -> SplitResult:
    """The person logs in at the provider, which sends the browser back to our callback."""
    async with (
        ClientSession() as browser,
        browser.get(f"{location}&as={who}", allow_redirects=False) as response,
    ):
        return urlsplit(response.headers["Location"])


async def login_with(client: Client, provider: str, who: str) -> tuple[int, Any]:
    """Follow the whole dance as a browser would: our authorize → provider → our callback."""
    start = await client.get(f"/api/auth/oauth/{provider}/authorize", allow_redirects=False)
    assert start.status == 302
    location = start.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["state"][0]) >= 32
    callback = await at_provider(location, who)
    done = await client.get(f"{callback.path}?{callback.query}", allow_redirects=False)
    return done.status, await done.json()


@pytest.mark.parametrize("provider", ["github", "google"])
async def test_first_login_creates_an_account_and_second_finds_it(
    oauth_client: Client, standin: StandIn, provider: str
) -> None:
    standin.accounts["octo"] = Account("4242", "octo-cat", "octo@example.org")
    status, pair = await login_with(oauth_client, provider, "octo")
    assert status == 200, pair
    user = pair["user"]
    assert (user["email"], user["email_verified"], user["oauth_provider"]) == (
        "octo@example.org",
        True,
        provider,
    )
    assert (await oauth_client.get("/api/auth/me", headers=bearer(pair))).status == 200
    status, again = await login_with(oauth_client, provider, "octo")
    assert again["user"]["user_id"] == user["user_id"]


async def test_verified_email_links_to_the_existing_account(
    oauth_client: Client, standin: StandIn, tmp_path: Path
) -> None:
    existing = await register(oauth_client, "octo")
    await confirm_email(oauth_client, tmp_path, "octo@example.org")
    standin.accounts["octo"] = Account("7", "octo", "octo@example.org", verified=True)
    status, pair = await login_with(oauth_client, "github", "octo")
    assert status == 200
    assert pair["user"]["user_id"] == existing["user"]["user_id"]
    # The password still works too.
    login = await oauth_client.post(
        "/api/auth/login", json={"login": "octo", "password": STRONG_PASSWORD}
    )
    assert login.status == 200


async def test_unverified_email_is_not_linked(
    oauth_client: Client, standin: StandIn, database_url: str
) -> None:
    await register(oauth_client, "victim")
    standin.accounts["attacker"] = Account("666", "attacker", "victim@example.org", verified=False)
    status, body = await login_with(oauth_client, "github", "attacker")
    assert (status, body["error"]["code"]) == (409, "conflict")
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT oauth_provider FROM users") is None
    finally:
        await conn.close()


async def test_state_is_single_use_and_must_be_ours(oauth_client: Client, standin: StandIn) -> None:
    standin.accounts["octo"] = Account("1", "octo", "o@example.org")
    forged = await oauth_client.get("/api/auth/oauth/github/callback?code=x&state=forged")
    assert forged.status == 401
    start = await oauth_client.get("/api/auth/oauth/github/authorize", allow_redirects=False)
    callback = await at_provider(start.headers["Location"], "octo")
    first = await oauth_client.get(f"{callback.path}?{callback.query}")
    replay = await oauth_client.get(f"{callback.path}?{callback.query}")
    assert (first.status, replay.status) == (200, 401)


async def test_unknown_provider_is_404(oauth_client: Client) -> None:
    response = await oauth_client.get("/api/auth/oauth/myspace/authorize", allow_redirects=False)
    assert response.status == 404


async def test_callback_redirects_to_the_front_end_when_configured(
    make_client: Any, standin: StandIn
) -> None:
    client = await make_client(
        github_client_id=CLIENT_ID,
        github_client_secret=CLIENT_SECRET,
        github_url=standin.base_url,
        github_api_url=f"{standin.base_url}/api",
        frontend_url="https://ide.example.com",
    )
    standin.accounts["octo"] = Account("5", "octo", "o5@example.org")
    start = await client.get("/api/auth/oauth/github/authorize", allow_redirects=False)
    callback = await at_provider(start.headers["Location"], "octo")
    done = await client.get(f"{callback.path}?{callback.query}", allow_redirects=False)
    assert done.status == 302
    target = urlsplit(done.headers["Location"])
    assert (target.netloc, target.path, target.query) == ("ide.example.com", "/oauth/callback", "")
    assert "access_token" in parse_qs(target.fragment)
    # The refresh token never where script could read it: only in the HttpOnly cookie.
    assert "refresh_token" not in parse_qs(target.fragment)
    assert any(
        c.startswith("collab_refresh=") and "HttpOnly" in c
        for c in done.headers.getall("Set-Cookie")
    )


async def test_configured_providers_are_listed(oauth_client: Client, client: Client) -> None:
    response = await oauth_client.get("/api/auth/providers")
    assert response.status == 200
    assert await response.json() == {"providers": ["github", "google"]}
    assert await (await client.get("/api/auth/providers")).json() == {"providers": []}


async def test_a_browser_navigation_gets_the_refresh_cookie_and_lands_on_the_app(
    oauth_client: Client, standin: StandIn
) -> None:
    """No front-end URL: the callback sets the cookie and sends the browser to `/`, where
    the app calls refresh; no token appears in the URL or the answer."""
    standin.accounts["octo"] = Account("9", "octo", "o9@example.org")
    start = await oauth_client.get("/api/auth/oauth/github/authorize", allow_redirects=False)
    callback = await at_provider(start.headers["Location"], "octo")
    done = await oauth_client.get(
        f"{callback.path}?{callback.query}",
        headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
        allow_redirects=False,
    )
    assert done.status == 302 and done.headers["Location"] == "/"
    assert "token" not in (await done.text())
    cookies = [c for c in done.headers.getall("Set-Cookie") if c.startswith("collab_refresh=")]
    assert [c.split("; ")[1] for c in cookies] == [
        "Path=/api/auth/refresh",
        "Path=/api/auth/logout",
    ]
    assert all("HttpOnly" in c and "Secure" in c and "SameSite=Strict" in c for c in cookies)
    token = cookies[0].split(";")[0].partition("=")[2]
    oauth_client.session.cookie_jar.clear()
    refreshed = await oauth_client.post(
        "/api/auth/refresh",
        headers={
            "X-Collab-Client": "web",
            "Origin": "http://127.0.0.1:8000",
            "Cookie": f"collab_refresh={token}",
        },
    )
    assert refreshed.status == 200
    assert (await refreshed.json())["user"]["username"] == "octo"


async def test_a_callback_url_handed_to_someone_else_logs_nobody_in(
    oauth_client: Client, standin: StandIn
) -> None:
    """Login CSRF: an attacker starts a login, finishes it at the provider as themselves and
    sends the callback URL to a victim. The victim's browser did not start that login."""
    standin.accounts["mallory"] = Account("66", "mallory", "m@example.org")
    start = await oauth_client.get("/api/auth/oauth/github/authorize", allow_redirects=False)
    callback = await at_provider(start.headers["Location"], "mallory")
    oauth_client.session.cookie_jar.clear()  # the victim's browser: no state cookie of this login
    done = await oauth_client.get(
        f"{callback.path}?{callback.query}",
        headers={"Accept": "text/html"},
        allow_redirects=False,
    )
    assert done.status == 401
    assert (await done.json())["error"]["code"] == "unauthorized"
    assert not any(c.startswith("collab_refresh=") for c in done.headers.getall("Set-Cookie", []))
