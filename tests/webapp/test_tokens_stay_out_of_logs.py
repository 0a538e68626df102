"""A join link's token is a credential; the request log must not carry it."""

from __future__ import annotations

import logging

import pytest

from tests.accounts_support import bearer, register
from tests.support import Client


async def test_join_tokens_stay_out_of_the_request_log(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    pair = await register(client, "ada")
    session = await client.post(
        "/api/sessions", json={"name": "S", "language": "python"}, headers=bearer(pair)
    )
    session_id = (await session.json())["session_id"]
    created = await client.post(
        f"/api/sessions/{session_id}/invitations", json={"role": "editor"}, headers=bearer(pair)
    )
    token = (await created.json())["token"]
    with caplog.at_level(logging.INFO, logger="collab.request"):
        assert (await client.get(f"/join/{token}")).status == 200
        await client.get(f"/api/join/{token}")
    logged = [r.getMessage() for r in caplog.records]
    assert "GET /join/*** -> 200" in logged and "GET /api/join/*** -> 200" in logged, logged
    assert not [r.getMessage() for r in caplog.records if token in r.getMessage()]
