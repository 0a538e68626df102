"""A preview used only over a WebSocket (a live app: chat, game, dashboard) was
stopped as `idle` while messages flowed: only the upgrade request counted as traffic."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.containers.test_deployments import WS_ECHO
from tests.deploy_support import browser, deploy, preview_origin, session_with_files, wait_status
from tests.node_agent import NodeAgent


async def test_websocket_messages_keep_a_public_preview_from_being_idle(
    make_client: Any, runtime_images: str, agent: NodeAgent
) -> None:
    client = await make_client(
        docker_host=runtime_images, deploy_idle_seconds=8, deploy_check_interval_seconds=0.3
    )
    live = await session_with_files(client, agent, "python", {"main.py": WS_ECHO}, "wsi")
    started = await deploy(client, live.owner, live, public=True)
    did = started["deployment_id"]
    assert (await wait_status(client, live.owner, did, "running", "failed"))["status"] == "running"
    site = preview_origin(client, did)
    async with browser() as visitor, visitor.ws_connect(f"{site}/ws") as ws:
        # Well over the idle time, a message every half second.
        for i in range(26):
            await ws.send_str(f"m{i}")
            message = await ws.receive(timeout=5)
            assert message.data == f"echo:m{i}", message
            await asyncio.sleep(0.5)
        response = await client.get(f"/api/deployments/{did}", headers=live.owner.headers)
        assert (await response.json())["status"] == "running", await response.text()
    # Nobody there any more: it stops as idle.
    stopped = await wait_status(client, live.owner, did, "stopped")
    assert stopped["reason"] == "idle"
