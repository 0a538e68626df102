"""Fixtures of the provider-login tests: a local OAuth stand-in (GitHub and Google/OIDC)
and an app configured to use it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from tests.oauth_standin import CLIENT_ID, CLIENT_SECRET, StandIn
from tests.support import Client


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    provider = StandIn()
    server = TestServer(provider.app(), host="127.0.0.1")
    await server.start_server()
    provider.base_url = str(server.make_url("")).rstrip("/")
    yield provider
    await server.close()


@pytest.fixture
async def oauth_client(make_client: Any, standin: StandIn) -> Client:
    client: Client = await make_client(
        github_client_id=CLIENT_ID,
        github_client_secret=CLIENT_SECRET,
        github_url=standin.base_url,
        github_api_url=f"{standin.base_url}/api",
        google_client_id=CLIENT_ID,
        google_client_secret=CLIENT_SECRET,
        google_issuer=f"{standin.base_url}/oidc",
    )
    return client
