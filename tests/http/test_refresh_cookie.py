"""The browser's refresh flow: an HttpOnly cookie scoped to refresh and logout, under a CSRF
rule (the `X-Collab-Client: web` header and a trusted `Origin`); JSON clients unchanged."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import ClientResponse

from tests.accounts_support import STRONG_PASSWORD, register
from tests.support import Client

# The server's public origin in tests: no public URL, so http://127.0.0.1:8000.
PUBLIC = "http://127.0.0.1:8000"
WEB = {"X-Collab-Client": "web", "Origin": PUBLIC}
COOKIE_PATHS = ["/api/auth/refresh", "/api/auth/logout"]


async def post(
    client: Client,
    path: str,
    headers: dict[str, str],
    cookie: str | None = None,
    json: Any = None,
) -> ClientResponse:
    """A call carrying exactly the cookie given: the test client's own jar stays out of it."""
    client.session.cookie_jar.clear()
    sent = dict(headers)
    if cookie is not None:
        sent["Cookie"] = f"collab_refresh={cookie}"
    response = await client.post(path, headers=sent, json=json)
    await response.read()
    return response


def set_cookies(response: ClientResponse, name: str = "collab_refresh") -> list[dict[str, str]]:
    """Each Set-Cookie header of that name as {name, value, attribute: value}."""
    parsed = []
    for header in response.headers.getall("Set-Cookie", []):
        first, *attributes = [part.strip() for part in header.split(";")]
        cookie_name, _, value = first.partition("=")
        cookie = {"name": cookie_name, "value": value}
        for attribute in attributes:
            key, _, attribute_value = attribute.partition("=")
            cookie[key.lower()] = attribute_value or "true"
        if cookie["name"] == name:
            parsed.append(cookie)
    return parsed


def refresh_cookie(response: ClientResponse) -> str:
    cookies = set_cookies(response)
    assert [c["path"] for c in cookies] == COOKIE_PATHS
    assert len({c["value"] for c in cookies}) == 1
    return cookies[0]["value"]


async def browser_login(client: Client, name: str) -> tuple[dict[str, Any], str]:
    await register(client, name)
    client.session.cookie_jar.clear()
    response = await post(
        client, "/api/auth/login", WEB, json={"login": name, "password": STRONG_PASSWORD}
    )
    assert response.status == 200, await response.text()
    return await response.json(), refresh_cookie(response)


async def test_login_sets_two_scoped_httponly_cookies_and_hides_the_token(client: Client) -> None:
    await register(client, "ada")
    response = await post(
        client, "/api/auth/login", WEB, json={"login": "ada", "password": STRONG_PASSWORD}
    )
    assert response.status == 200
    body = await response.json()
    assert set(body) == {"user", "access_token", "token_type", "expires_in"}
    assert response.headers["Cache-Control"] == "no-store"
    cookies = set_cookies(response)
    assert [c["path"] for c in cookies] == COOKIE_PATHS
    for cookie in cookies:
        assert cookie["name"] == "collab_refresh" and len(cookie["value"]) >= 32
        assert cookie["httponly"] == cookie["secure"] == "true"
        assert cookie["samesite"] == "Strict"
        assert cookie["max-age"] == str(30 * 86400)
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status == 200


async def test_a_script_readable_hint_says_a_login_can_be_restored(client: Client) -> None:
    """The app asks to refresh on page load only when this flag is there; it holds no secret."""
    await browser_login(client, "hal")
    login = await post(
        client, "/api/auth/login", WEB, json={"login": "hal", "password": STRONG_PASSWORD}
    )
    [hint] = set_cookies(login, "collab_login")
    assert hint["value"] == "1" and hint["path"] == "/"
    assert "httponly" not in hint and hint["secure"] == "true" and hint["samesite"] == "Strict"
    logout = await post(client, "/api/auth/logout", WEB, cookie=refresh_cookie(login))
    assert logout.status == 204
    [cleared] = set_cookies(logout, "collab_login")
    assert cleared["value"] == "" and cleared["max-age"] == "0"


async def test_register_as_a_browser_sets_the_cookie(client: Client) -> None:
    response = await post(
        client,
        "/api/auth/register",
        WEB,
        json={"email": "bob@example.org", "username": "bob", "password": STRONG_PASSWORD},
    )
    assert response.status == 201
    assert "refresh_token" not in await response.json()
    refresh_cookie(response)


async def test_refresh_by_cookie_rotates_it(client: Client) -> None:
    _, first = await browser_login(client, "cyd")
    response = await post(client, "/api/auth/refresh", WEB, cookie=first)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert set(body) == {"user", "access_token", "token_type", "expires_in"}
    second = refresh_cookie(response)
    assert second != first
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert (await me.json())["username"] == "cyd"
    again = await post(client, "/api/auth/refresh", WEB, cookie=second)
    assert again.status == 200
    # An empty JSON object is a body without a token, like no body at all.
    third = refresh_cookie(again)
    with_empty_object = await post(client, "/api/auth/refresh", WEB, cookie=third, json={})
    assert with_empty_object.status == 200


async def test_reusing_an_old_cookie_is_detected(make_client: Any) -> None:
    client = await make_client(refresh_grace_seconds=0)
    _, first = await browser_login(client, "dee")
    rotated = refresh_cookie(await post(client, "/api/auth/refresh", WEB, cookie=first))
    await asyncio.sleep(0.05)
    replay = await post(client, "/api/auth/refresh", WEB, cookie=first)
    assert replay.status == 401
    assert (await replay.json())["error"]["code"] == "token_reused"
    assert (await post(client, "/api/auth/refresh", WEB, cookie=rotated)).status == 401


async def test_missing_cookie_is_unauthorized(client: Client) -> None:
    response = await post(client, "/api/auth/refresh", WEB)
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"
    assert not set_cookies(response)


async def test_logout_by_cookie_revokes_and_clears_both_cookies(client: Client) -> None:
    _, token = await browser_login(client, "eve")
    response = await post(client, "/api/auth/logout", WEB, cookie=token)
    assert response.status == 204
    cleared = set_cookies(response)
    assert [c["path"] for c in cleared] == COOKIE_PATHS
    assert all(c["max-age"] == "0" and c["value"] == "" for c in cleared)
    assert (await post(client, "/api/auth/refresh", WEB, cookie=token)).status == 401
    # Logging out again (no cookie left) is not an error.
    assert (await post(client, "/api/auth/logout", WEB)).status == 204


async def test_cookie_without_the_client_header_is_refused(client: Client) -> None:
    _, token = await browser_login(client, "fay")
    for path in ("/api/auth/refresh", "/api/auth/logout"):
        response = await post(client, path, {"Origin": PUBLIC}, cookie=token)
        assert response.status == 403, path
        error = (await response.json())["error"]
        assert error["code"] == "forbidden" and "X-Collab-Client" in error["message"]
    # The token was neither spent nor revoked.
    assert (await post(client, "/api/auth/refresh", WEB, cookie=token)).status == 200


async def test_cookie_calls_need_a_trusted_origin(client: Client) -> None:
    _, token = await browser_login(client, "gus")
    refused = [
        {"X-Collab-Client": "web"},
        {"X-Collab-Client": "web", "Origin": "null"},
        {"X-Collab-Client": "web", "Origin": "https://evil.example"},
        {"X-Collab-Client": "web", "Origin": "http://127.0.0.1:8000.evil.example"},
        # Our own origin, but the browser says a page of another site made the call.
        {**WEB, "Sec-Fetch-Site": "cross-site"},
    ]
    for headers in refused:
        for path in ("/api/auth/refresh", "/api/auth/logout"):
            response = await post(client, path, headers, cookie=token)
            assert response.status == 403, (path, headers)
            assert (await response.json())["error"]["code"] == "forbidden"
            assert not set_cookies(response)
    ok = await post(client, "/api/auth/refresh", {**WEB, "Sec-Fetch-Site": "same-origin"}, token)
    assert ok.status == 200


async def test_the_origin_the_browser_really_used_is_trusted(client: Client) -> None:
    """Opened at the test server's own host (not the public URL's 127.0.0.1:8000)."""
    _, token = await browser_login(client, "hal")
    own = str(client.make_url("")).rstrip("/")
    assert own != PUBLIC
    response = await post(
        client, "/api/auth/refresh", {"X-Collab-Client": "web", "Origin": own}, cookie=token
    )
    assert response.status == 200


async def test_an_allowed_origin_may_use_the_cookie(make_client: Any) -> None:
    client = await make_client(allowed_origins=("https://ide.example.com",))
    _, token = await browser_login(client, "ivy")
    headers = {
        "X-Collab-Client": "web",
        "Origin": "https://ide.example.com",
        "Sec-Fetch-Site": "cross-site",
    }
    response = await post(client, "/api/auth/refresh", headers, cookie=token)
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://ide.example.com"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"


async def test_json_clients_keep_the_body_token_flow(client: Client) -> None:
    pair = await register(client, "jon")
    assert "refresh_token" in pair
    response = await post(
        client, "/api/auth/refresh", {}, json={"refresh_token": pair["refresh_token"]}
    )
    assert response.status == 200
    rotated = await response.json()
    assert set(rotated) == {"user", "access_token", "refresh_token", "token_type", "expires_in"}
    assert not set_cookies(response)
    logout = await post(
        client, "/api/auth/logout", {}, json={"refresh_token": rotated["refresh_token"]}
    )
    assert logout.status == 204 and not set_cookies(logout)
    # No body at all is still the JSON client's mistake, answered as before.
    empty = await post(client, "/api/auth/refresh", {})
    assert empty.status == 400
    assert (await empty.json())["error"]["code"] == "invalid_json"


async def test_a_browser_may_still_send_the_token_in_the_body(client: Client) -> None:
    pair = await register(client, "kim")
    response = await post(
        client,
        "/api/auth/refresh",
        {"X-Collab-Client": "web"},
        json={"refresh_token": pair["refresh_token"]},
    )
    assert response.status == 200
    assert "refresh_token" not in await response.json()
    refresh_cookie(response)
