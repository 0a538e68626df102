"""A short Docker Engine restart, which the reaper does not notice (its interval here is
far longer than the outage), under a deployment that prints a line every 0.2 s.

The engine ends every log stream as it stops; its container survives (`--live-restore`).
Without a server restart, the lines the app prints after the engine is back reach the
session again as `deployment:log`, and across the outage every line arrives exactly once,
in order: the follower resumes from the engine's timestamp of the last line it read.
While the engine is down, deploying answers 503.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from collab.app import build_app
from tests.conftest import make_settings
from tests.deploy_support import deploy, session_with_files, wait_status
from tests.faults.services import OwnDockerd
from tests.faults.support import assert_unavailable
from tests.node_agent import NodeAgent
from tests.session_support import socket_for
from tests.support import Client, run_collab

pytestmark = pytest.mark.integration

# Prints "line <n> <wall-clock time>" every 0.2 s, and answers HTTP (a deployment is
# `running` once its app answers).
APP = (
    "import http.server, os, threading, time\n"
    "def talk():\n"
    "    n = 0\n"
    "    while True:\n"
    "        print(f'line {n} {time.time():.3f}', flush=True); n += 1; time.sleep(0.2)\n"
    "threading.Thread(target=talk, daemon=True).start()\n"
    "http.server.HTTPServer(('', int(os.environ['PORT'])),"
    " http.server.SimpleHTTPRequestHandler).serve_forever()\n"
)
REAPER_INTERVAL = 300.0  # no sweep falls into the outage: only the followers can notice it


def _printed(events: list[tuple[str, Any]], deployment_id: str) -> list[tuple[int, float]]:
    """(n, time printed) of every `line` the session received, in arrival order."""
    out = []
    for name, data in events:
        if name == "deployment:log" and data["deployment_id"] == deployment_id:
            for line in data["lines"]:
                if line.startswith("line "):  # not the server's access log
                    _, n, at = line.split()
                    out.append((int(n), float(at)))
    return out


async def test_a_short_engine_outage_leaves_the_deployment_its_log_follower(
    own_dockerd: OwnDockerd,
    database_url: str,
    clean_redis: str,
    tmp_path: Path,
    aiohttp_client: Any,
    agent: NodeAgent,
) -> None:
    built = await asyncio.to_thread(
        run_collab, "runtimes", "build", "python", env={"COLLAB_DOCKER_HOST": own_dockerd.url}
    )
    assert built.returncode == 0, built.stderr
    settings = make_settings(
        database_url,
        clean_redis,
        tmp_path,
        docker_host=own_dockerd.url,
        deploy_check_interval_seconds=REAPER_INTERVAL,
        deploy_subnet_pool="10.214.0.0/16",  # apart from the shared engine's
    )
    client: Client = await aiohttp_client(build_app(settings))
    live = await session_with_files(client, agent, "python", {"main.py": APP}, "lf")
    sio, events = await socket_for(client, live.viewer)
    sio.on("deployment:log", lambda data: events.append(("deployment:log", data)))
    try:
        await sio.call("session:join", {"session_id": live.session_id})
        did = (await deploy(client, live.owner, live))["deployment_id"]
        assert (await wait_status(client, live.owner, did, "running", "failed"))[
            "status"
        ] == "running"
        for _ in range(50):
            if len(_printed(events, did)) >= 5:
                break
            await asyncio.sleep(0.1)
        assert len(_printed(events, did)) >= 5, events

        outage = time.monotonic()
        await asyncio.to_thread(own_dockerd.stop)
        response = await client.post(
            f"/api/sessions/{live.session_id}/deployments", json={}, headers=live.owner.headers
        )
        assert_unavailable(response.status, dict(response.headers), await response.json())
        await asyncio.to_thread(own_dockerd.start)
        back = time.time()
        outage_seconds = time.monotonic() - outage
        assert outage_seconds < REAPER_INTERVAL / 10, outage_seconds

        # Lines printed after the engine is back arrive, without a server restart.
        for _ in range(150):
            if sum(at > back + 1 for _, at in _printed(events, did)) >= 3:
                break
            await asyncio.sleep(0.1)
        printed = _printed(events, did)
        assert sum(at > back + 1 for _, at in printed) >= 3, (outage_seconds, printed[-10:])
        # Every line once and in order, those printed during the outage too.
        numbers = [n for n, _ in printed]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), numbers
        status = await (
            await client.get(f"/api/deployments/{did}", headers=live.owner.headers)
        ).json()
        assert status["status"] == "running", status
    finally:
        await sio.disconnect()
