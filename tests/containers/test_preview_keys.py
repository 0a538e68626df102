"""A private preview takes a person's access token, never an API key: the first visit puts
the credential in a URL (history, logs), where a long-lived key must not be."""

from __future__ import annotations

from tests.containers.probe import probe
from tests.deploy_support import browser, preview_origin
from tests.node_agent import NodeAgent
from tests.support import Client


async def test_an_api_key_does_not_open_a_private_preview(client: Client, agent: NodeAgent) -> None:
    live, did = await probe(client, agent, "pk", public=False)
    created = await client.post(
        "/api/auth/api-keys",
        json={"name": "ci", "scopes": ["read", "deploy"]},
        headers=live.owner.headers,
    )
    assert created.status == 201, await created.text()
    key = (await created.json())["key"]
    site = preview_origin(client, did)
    async with browser() as visitor:
        by_url = await visitor.get(f"{site}/?token={key}", allow_redirects=False)
        assert by_url.status == 401
        assert "collab_preview" not in by_url.cookies
        by_header = await visitor.get(f"{site}/", headers={"Authorization": f"Bearer {key}"})
        assert by_header.status == 401
        # The owner's own access token still opens it.
        opened = await visitor.get(f"{site}/?token={live.owner.token}", allow_redirects=False)
        assert opened.status == 302
