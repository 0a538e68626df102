"""CORS on `/api/*`: the allowed origins get their origin back with credentials, a preflight
is answered (not 405), other origins and other paths get no CORS headers."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import ClientResponse

from tests.accounts_support import STRONG_PASSWORD, register
from tests.support import Client

IDE = "https://ide.example.com"
EVIL = "https://evil.example"


@pytest.fixture
async def cors_client(make_client: Any) -> Client:
    client: Client = await make_client(allowed_origins=(IDE, "http://localhost:5173"))
    return client


def cors_headers(response: ClientResponse) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


def preflight(client: Client, path: str, origin: str) -> Any:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-collab-client",
        },
    )


async def test_an_allowed_origin_gets_its_origin_back(cors_client: Client) -> None:
    await register(cors_client, "ann")
    response = await cors_client.post(
        "/api/auth/login",
        headers={"Origin": IDE},
        json={"login": "ann", "password": STRONG_PASSWORD},
    )
    assert response.status == 200
    assert cors_headers(response) == {
        "Access-Control-Allow-Origin": IDE,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Expose-Headers": "Retry-After, X-Request-Id",
    }
    assert "Origin" in response.headers["Vary"]
    # Error answers carry them too, or the app could not read the error's message.
    unauthorized = await cors_client.get("/api/auth/me", headers={"Origin": IDE})
    assert unauthorized.status == 401
    assert unauthorized.headers["Access-Control-Allow-Origin"] == IDE
    missing = await cors_client.get("/api/nope", headers={"Origin": "http://localhost:5173"})
    assert missing.status == 404
    assert missing.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"


async def test_another_origin_gets_no_cors_headers(cors_client: Client) -> None:
    for origin in (EVIL, "null", f"{IDE}.evil.example", "http://ide.example.com"):
        response = await cors_client.get("/api/auth/me", headers={"Origin": origin})
        assert response.status == 401
        assert cors_headers(response) == {}, origin


async def test_preflight_from_an_allowed_origin(cors_client: Client) -> None:
    # Routes register POST only: without the middleware this answered 405.
    response = await preflight(cors_client, "/api/auth/login", IDE)
    assert response.status == 204
    headers = cors_headers(response)
    assert headers["Access-Control-Allow-Origin"] == IDE
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert headers["Access-Control-Allow-Methods"] == "GET, POST, PUT, PATCH, DELETE"
    assert headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type, X-Collab-Client"
    assert headers["Access-Control-Max-Age"] == "600"
    # A route with a path parameter and other methods is answered the same way.
    other = await preflight(cors_client, "/api/sessions/some-id", IDE)
    assert other.status == 204


async def test_preflight_from_another_origin_is_refused(cors_client: Client) -> None:
    response = await preflight(cors_client, "/api/auth/login", EVIL)
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "forbidden"
    assert cors_headers(response) == {}


async def test_no_allowed_origins_means_no_cors(client: Client) -> None:
    response = await preflight(client, "/api/auth/login", IDE)
    assert response.status == 403
    assert cors_headers(response) == {}
    plain = await client.get("/api/auth/me", headers={"Origin": IDE})
    assert cors_headers(plain) == {}


async def test_paths_outside_the_api_get_no_cors_headers(cors_client: Client) -> None:
    page = await cors_client.get("/", headers={"Origin": IDE})
    assert page.status == 200
    assert cors_headers(page) == {}
    health = await cors_client.get("/healthz", headers={"Origin": IDE})
    assert cors_headers(health) == {}
    options = await preflight(cors_client, "/login", IDE)
    assert cors_headers(options) == {}
    assert options.status == 405


async def test_options_without_a_preflight_is_left_to_routing(cors_client: Client) -> None:
    response = await cors_client.options("/api/auth/login", headers={"Origin": IDE})
    assert response.status == 405
    assert (await response.json())["error"]["code"] == "method_not_allowed"
