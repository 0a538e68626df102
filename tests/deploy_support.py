"""A session with files, deployed, and waiting for a deployment's status."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.live_support import LiveSession, Member, live_session
from tests.node_agent import NodeAgent
from tests.support import Client


async def session_with_files(
    client: Client, agent: NodeAgent, language: str, files: dict[str, str], prefix: str = ""
) -> LiveSession:
    live = await live_session(client, prefix)
    await client.patch(
        f"/api/sessions/{live.session_id}", json={"language": language}, headers=live.owner.headers
    )
    url = str(client.make_url("")).rstrip("/")
    for i, (path, text) in enumerate(files.items()):
        name = f"{prefix}w{i}"
        await agent.call(
            "connect", name=name, url=url, room=live.room(path), token=live.owner.token
        )
        await agent.call("insert", name=name, index=0, text=text)
        await agent.call("close", name=name)
    await asyncio.sleep(0.3)
    return live


async def deploy(client: Client, who: Member, live: LiveSession, **body: Any) -> dict[str, Any]:
    response = await client.post(
        f"/api/sessions/{live.session_id}/deployments", json=body, headers=who.headers
    )
    assert response.status == 202, await response.text()
    started: dict[str, Any] = await response.json()
    assert started["status"] == "starting"
    assert started["deployment_url"].endswith(f"/preview/{started['deployment_id']}/")
    return started


async def wait_status(
    client: Client, who: Member, deployment_id: str, *wanted: str
) -> dict[str, Any]:
    for _ in range(150):
        response = await client.get(f"/api/deployments/{deployment_id}", headers=who.headers)
        body: dict[str, Any] = await response.json()
        if body["status"] in wanted:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"deployment stuck in {body}")
