"""A login provider that is down or answers nonsense is a dependency's failure
(503 `unavailable` with Retry-After, or 401 when its answer is unusable), never a 500.

The provider is a real HTTP server here: the stand-in, a port nobody listens on, and a
stand-in whose answers have the wrong shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.auth.test_oauth import at_provider
from tests.oauth_standin import CLIENT_ID, CLIENT_SECRET, Account, StandIn
from tests.support import Client, free_port


def _dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


async def test_an_unreachable_oidc_issuer_is_503_at_authorize(make_client: Any) -> None:
    client: Client = await make_client(
        google_client_id=CLIENT_ID,
        google_client_secret=CLIENT_SECRET,
        google_issuer=f"{_dead_url()}/oidc",
    )
    response = await client.get("/api/auth/oauth/google/authorize", allow_redirects=False)
    assert response.status == 503, await response.text()
    assert (await response.json())["error"]["code"] == "unavailable"
    assert response.headers["Retry-After"]


async def test_an_unreachable_github_is_503_at_the_callback(make_client: Any) -> None:
    client: Client = await make_client(
        github_client_id=CLIENT_ID,
        github_client_secret=CLIENT_SECRET,
        github_url=_dead_url(),
        github_api_url=f"{_dead_url()}/api",
    )
    start = await client.get("/api/auth/oauth/github/authorize", allow_redirects=False)
    assert start.status == 302
    state = start.headers["Location"].split("state=")[1].split("&")[0]
    response = await client.get(f"/api/auth/oauth/github/callback?code=abc&state={state}")
    assert response.status == 503, await response.text()
    assert (await response.json())["error"]["code"] == "unavailable"


class OddStandIn(StandIn):
    """A provider whose user and email answers are JSON of the wrong shape."""

    shape: Any = None

    async def github_user(self, request: web.Request) -> web.Response:
        self._account(request)
        return web.json_response(self.shape)

    async def userinfo(self, request: web.Request) -> web.Response:
        self._account(request)
        return web.json_response(self.shape)


@pytest.fixture
async def odd() -> AsyncIterator[OddStandIn]:
    provider = OddStandIn()
    server = TestServer(provider.app(), host="127.0.0.1")
    await server.start_server()
    provider.base_url = str(server.make_url("")).rstrip("/")
    yield provider
    await server.close()


@pytest.mark.parametrize("provider", ["github", "google"])
@pytest.mark.parametrize(
    "shape", [[], "text", 5, None, {}, {"id": None, "sub": None}, {"id": [1], "sub": {"a": 1}}]
)
async def test_a_provider_answering_the_wrong_shape_is_refused_not_a_500(
    make_client: Any, odd: OddStandIn, provider: str, shape: Any
) -> None:
    client: Client = await make_client(
        github_client_id=CLIENT_ID,
        github_client_secret=CLIENT_SECRET,
        github_url=odd.base_url,
        github_api_url=f"{odd.base_url}/api",
        google_client_id=CLIENT_ID,
        google_client_secret=CLIENT_SECRET,
        google_issuer=f"{odd.base_url}/oidc",
    )
    odd.shape = shape
    odd.accounts["octo"] = Account("9", "octo", "octo@example.org")
    start = await client.get(f"/api/auth/oauth/{provider}/authorize", allow_redirects=False)
    callback = await at_provider(start.headers["Location"], "octo")
    response = await client.get(f"{callback.path}?{callback.query}")
    assert response.status in (401, 502), await response.text()
    assert (await response.json())["error"]["code"] in ("unauthorized", "bad_gateway")
