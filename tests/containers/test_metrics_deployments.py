"""The deployment families of `/metrics` move with a real deployment on a real Docker
Engine: status changes, the deploy-to-running histogram, live deployments by status, and
requests through the preview proxy (on the preview's own host and under `/preview/`)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.collab.test_metrics import TOKEN, moved, scrape, value
from tests.containers.probe import probe, stop
from tests.deploy_support import browser, preview_origin, wait_status
from tests.node_agent import NodeAgent


async def test_deployment_families_move_with_a_deployment(
    make_client: Any, runtime_images: str, agent: NodeAgent
) -> None:
    client = await make_client(docker_host=runtime_images, preview_paths=True, metrics_token=TOKEN)
    before = await scrape(client)
    live, did = await probe(client, agent, "mx")
    running = await scrape(client)
    assert moved(before, running, "collab_deployment_status_changes_total", status="starting") == 1
    assert moved(before, running, "collab_deployment_status_changes_total", status="running") == 1
    assert moved(before, running, "collab_deployment_start_seconds_count") == 1
    assert moved(before, running, "collab_deployment_start_seconds_sum") > 0
    assert value(running, "collab_deployments", status="running") == 1

    async with browser() as visitor:
        site = preview_origin(client, did)
        own_host = await visitor.get(f"{site}/?token={live.owner.token}", allow_redirects=False)
        assert own_host.status == 302
    under_path = await client.get(f"/preview/{did}/x", allow_redirects=False)
    assert under_path.status == 401  # private, no token: still a preview request
    visited = await scrape(client)
    assert moved(running, visited, "collab_preview_requests_total", status="302") == 1
    assert moved(running, visited, "collab_preview_requests_total", status="401") == 1
    preview_route = {"route": "preview host", "status": "302"}
    assert moved(running, visited, "collab_http_requests_total", **preview_route) == 1

    await stop(client, live, did)
    await wait_status(client, live.owner, did, "stopped")
    await asyncio.sleep(0.2)
    stopped = await scrape(client)
    assert moved(visited, stopped, "collab_deployment_status_changes_total", status="stopped") == 1
    assert value(stopped, "collab_deployments", status="running") == 0
