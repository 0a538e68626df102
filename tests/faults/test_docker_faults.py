"""The Docker Engine restarted under a running server (a second engine of the test's own:
the tests' shared one is never stopped).

While it is down, deploying answers 503 `unavailable` with Retry-After and /readyz names
Docker. Once it is back, without restarting the server, the deployments are reconciled: one
whose container survived the restart (`--live-restore`) is adopted and its preview still
answers; one whose container died meanwhile is archived as `orphaned`; and deploying works.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import docker
import pytest

from collab.app import build_app
from tests.conftest import make_settings
from tests.deploy_support import browser, deploy, session_with_files, wait_status
from tests.faults.services import OwnDockerd
from tests.faults.support import assert_unavailable
from tests.node_agent import NodeAgent
from tests.support import Client, free_port, run_collab

pytestmark = pytest.mark.integration


async def _json(response: Any) -> tuple[int, dict[str, str], Any]:
    return response.status, dict(response.headers), await response.json()


async def test_engine_restart_reconciles_deployments_without_a_server_restart(
    own_dockerd: OwnDockerd,
    database_url: str,
    clean_redis: str,
    tmp_path: Path,
    aiohttp_client: Any,
    agent: NodeAgent,
) -> None:
    built = await asyncio.to_thread(
        run_collab, "runtimes", "build", "html", env={"COLLAB_DOCKER_HOST": own_dockerd.url}
    )
    assert built.returncode == 0, built.stderr
    port = free_port()  # previews are served on the app's own port
    settings = make_settings(
        database_url,
        clean_redis,
        tmp_path,
        port=port,
        docker_host=own_dockerd.url,
        deploy_check_interval_seconds=0.3,
        # Apart from the shared engine's pool: two engines on one host must not pick
        # overlapping subnets for their bridges.
        deploy_subnet_pool="10.213.0.0/16",
    )
    client: Client = await aiohttp_client(build_app(settings), server_kwargs={"port": port})
    live = await session_with_files(client, agent, "html", {"index.html": "survivor"})
    survivor = (await deploy(client, live.editor, live))["deployment_id"]
    victim = (await deploy(client, live.editor, live))["deployment_id"]
    for did in (survivor, victim):
        assert (await wait_status(client, live.editor, did, "running", "failed"))[
            "status"
        ] == "running"
    engine = docker.DockerClient(base_url=own_dockerd.url)
    by_deployment = {
        c.labels["collab.deployment"]: c
        for c in engine.containers.list(filters={"label": "collab.managed=true"})
    }
    survivor_container = by_deployment[survivor].id
    victim_pid = by_deployment[victim].attrs["State"]["Pid"]
    engine.close()

    await asyncio.to_thread(own_dockerd.stop)
    # The victim's container dies while nobody is watching.
    os.kill(victim_pid, signal.SIGKILL)

    assert_unavailable(
        *await _json(
            await client.post(
                f"/api/sessions/{live.session_id}/deployments", json={}, headers=live.editor.headers
            )
        )
    )
    ready = await client.get("/readyz")
    body = await ready.json()
    assert ready.status == 503 and body["error"]["details"]["docker"] != "ok", body
    await asyncio.sleep(1.0)  # several reaper ticks against a missing engine
    # Nothing is archived on a guess while the engine cannot be asked.
    for did in (survivor, victim):
        status = await (
            await client.get(f"/api/deployments/{did}", headers=live.editor.headers)
        ).json()
        assert status["status"] == "running", status

    await asyncio.to_thread(own_dockerd.start)
    back = time.monotonic()
    orphaned = await wait_status(client, live.editor, victim, "stopped", "failed")
    reconciled_in = time.monotonic() - back
    assert (orphaned["status"], orphaned["reason"]) == ("stopped", "orphaned"), orphaned
    adopted = await (
        await client.get(f"/api/deployments/{survivor}", headers=live.editor.headers)
    ).json()
    assert adopted["status"] == "running", adopted
    engine = docker.DockerClient(base_url=own_dockerd.url)
    try:
        left = {
            c.id for c in engine.containers.list(all=True, filters={"label": "collab.managed=true"})
        }
    finally:
        engine.close()
    assert left == {survivor_container}  # the victim's dead container is removed
    async with browser(cookies=True) as visitor:
        page = await visitor.get(f"{adopted['deployment_url']}?token={live.viewer.token}")
        assert page.status == 200 and await page.text() == "survivor"
    stats = await client.get(f"/api/deployments/{survivor}/stats", headers=live.editor.headers)
    assert stats.status == 200, await stats.text()
    # And deploying works again, on the same server.
    again = (await deploy(client, live.editor, live))["deployment_id"]
    assert (await wait_status(client, live.editor, again, "running", "failed"))[
        "status"
    ] == "running"
    assert reconciled_in < 10
