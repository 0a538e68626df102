"""The reaper asks the sessions package who is present before calling a deployment idle."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.deploy_support import deploy, session_with_files, wait_status
from tests.node_agent import NodeAgent
from tests.session_support import socket_for


async def test_a_present_participant_keeps_a_quiet_deployment_running(
    make_client: Any, runtime_images: str, agent: NodeAgent
) -> None:
    client = await make_client(
        docker_host=runtime_images, deploy_idle_seconds=2, deploy_check_interval_seconds=0.3
    )
    live = await session_with_files(client, agent, "html", {"index.html": "kept"}, "k")
    # The viewer's socket is ready before the deployment runs: on a loaded machine, opening
    # it afterwards could take longer than the 2 s idle time on its own.
    sio, _ = await socket_for(client, live.viewer)
    started = await deploy(client, live.owner, live)
    did = started["deployment_id"]
    await wait_status(client, live.owner, did, "running")
    try:
        # No preview traffic at all, but the viewer keeps coming back to the session: being
        # present counts for the idle time after each arrival.
        for _ in range(10):
            assert (await sio.call("session:join", {"session_id": live.session_id}))["ok"]
            await asyncio.sleep(0.5)
            assert (await sio.call("session:leave", {"session_id": live.session_id}))["ok"]
        response = await client.get(f"/api/deployments/{did}", headers=live.owner.headers)
        assert (await response.json())["status"] == "running", await response.text()
    finally:
        await sio.disconnect()
    # Nobody there any more: it stops as idle.
    stopped = await wait_status(client, live.owner, did, "stopped")
    assert stopped["reason"] == "idle"
