"""A deployment stopped while its container was being started. The start went on
after the stop had archived it: its container ran with no live deployment (outside the
per-user quota, which the stop had freed) until a reaper sweep happened to remove it, and
its sockets were told it was `running`."""

from __future__ import annotations

import asyncio
from typing import Any

import docker
import pytest

from containers.engine import LABEL_DEPLOYMENT
from tests.containers.conftest import ENGINES
from tests.deploy_support import deploy, session_with_files, wait_status
from tests.node_agent import NodeAgent

APP = """
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"up")
http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), H).serve_forever()
"""


def _left(docker_engine: docker.DockerClient, ids: list[str], engine: str) -> list[str | None]:
    """The deployments of `ids` that still have a container (or a Swarm service)."""
    left = [
        c.labels.get(LABEL_DEPLOYMENT)
        for c in docker_engine.containers.list(all=True, filters={"label": "collab.managed=true"})
        if c.labels.get(LABEL_DEPLOYMENT) in ids
    ]
    if engine == "swarm":
        left += [
            s.attrs["Spec"]["Labels"].get(LABEL_DEPLOYMENT)
            for s in docker_engine.services.list()
            if s.attrs["Spec"]["Labels"].get(LABEL_DEPLOYMENT) in ids
        ]
    return left


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
async def test_a_deployment_stopped_while_starting_leaves_no_container(
    make_client: Any, agent: NodeAgent, runtime_images: str, engine: str
) -> None:
    # No reaper sweep during the test: what is left is what the stop left.
    client = await make_client(
        docker_host=runtime_images,
        deploy_engine=engine,
        deploy_start_timeout_seconds=15,
        deploy_check_interval_seconds=3600,
        deploy_max_per_user=1,
    )
    live = await session_with_files(client, agent, "python", {"main.py": APP}, "sws")
    docker_engine = docker.DockerClient(base_url=runtime_images)
    ids = []
    try:
        for delay in (0.0, 0.05, 0.15, 0.3):
            started = await deploy(client, live.owner, live, public=True)
            ids.append(started["deployment_id"])
            await asyncio.sleep(delay)
            response = await client.post(
                f"/api/deployments/{started['deployment_id']}/stop", headers=live.owner.headers
            )
            assert response.status == 202, await response.text()
            done = await wait_status(
                client, live.owner, started["deployment_id"], "stopped", "failed"
            )
            assert done["status"] == "stopped", done
        # Once every start that was under way has ended (before the fix what it made
        # stayed: no reaper sweeps here; now it removes that itself), nothing is left.
        starts = {f"deploy:{deployment_id}" for deployment_id in ids}
        for _ in range(120):
            if not any(t.get_name() in starts for t in asyncio.all_tasks()):
                break
            await asyncio.sleep(0.5)
        left = _left(docker_engine, ids, engine)
        assert left == [], f"containers of stopped deployments still exist: {left}"
        for deployment_id in ids:
            response = await client.get(
                f"/api/deployments/{deployment_id}", headers=live.owner.headers
            )
            assert (await response.json())["status"] == "stopped"
    finally:
        for c in docker_engine.containers.list(all=True, filters={"label": "collab.managed=true"}):
            if c.labels.get(LABEL_DEPLOYMENT) in ids:
                c.remove(force=True)
        docker_engine.close()
