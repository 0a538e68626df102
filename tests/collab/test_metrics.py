"""`GET /metrics`: who may scrape, and each family the issue lists moves when its event
happens (read as a Prometheus server reads it: the text format, parsed)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from config import Settings
from tests.conftest import make_settings
from tests.live_support import LiveSession
from tests.node_agent import NodeAgent
from tests.support import Client, free_port

TOKEN = "metrics-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: Client) -> Samples:
    response = await client.get("/metrics", headers=AUTH)
    assert response.status == 200, await response.text()
    assert response.content_type == "text/plain"
    samples: Samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


@pytest.fixture
def settings(database_url: str, clean_redis: str, tmp_path: Path) -> Settings:
    """The shared `client` and `live` fixtures, with metrics on."""
    return make_settings(database_url, clean_redis, tmp_path, metrics_token=TOKEN)


async def test_metrics_are_off_without_a_token(make_client: Any) -> None:
    client = await make_client()
    response = await client.get("/metrics")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_metrics_need_the_token(make_client: Any) -> None:
    client = await make_client(metrics_token=TOKEN)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = await client.get("/metrics", headers=headers)
        assert response.status == 401
        body = await response.json()
        assert body["error"]["code"] == "unauthorized"
        assert "WWW-Authenticate" in response.headers
    assert (await client.get("/metrics", headers=AUTH)).status == 200


async def test_http_requests_by_route_template_and_status(make_client: Any) -> None:
    client = await make_client(metrics_token=TOKEN)
    before = await scrape(client)
    for _ in range(3):
        assert (await client.get("/healthz")).status == 200
    assert (await client.get("/api/auth/me")).status == 401
    assert (await client.get("/api/sessions/not-a-uuid-at-all")).status in (400, 401, 404, 422)
    after = await scrape(client)
    healthz = {"method": "GET", "route": "/healthz", "status": "200"}
    assert (
        value(after, "collab_http_requests_total", **healthz)
        - value(before, "collab_http_requests_total", **healthz)
        == 3
    )
    me = {"method": "GET", "route": "/api/auth/me", "status": "401"}
    assert (
        value(after, "collab_http_requests_total", **me)
        == value(before, "collab_http_requests_total", **me) + 1
    )
    # A path with an id is counted under its template, never under the path itself.
    assert any(
        ("route", "/api/sessions/{session_id}") in labels
        for name, labels in after
        if name == "collab_http_requests_total"
    )
    assert not any("not-a-uuid" in str(labels) for _, labels in after)
    count = {"method": "GET", "route": "/healthz"}
    assert (
        value(after, "collab_http_request_duration_seconds_count", **count)
        - value(before, "collab_http_request_duration_seconds_count", **count)
        == 3
    )


async def test_the_loopback_port_serves_metrics_without_a_token(make_client: Any) -> None:
    port = free_port()
    client = await make_client(metrics_port=port)
    assert (await client.get("/metrics")).status == 404  # no token: not on the app's port
    async with aiohttp.ClientSession() as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics")
        assert response.status == 200
        assert "collab_http_requests_total" in await response.text()
        # The app's own routes are not there.
        assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status == 404


def url(client: Client) -> str:
    return str(client.make_url("")).rstrip("/")


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


async def test_documents_sockets_and_fanout_move_with_edits(
    client: Client, live: LiveSession, agent: NodeAgent, make_client: Any
) -> None:
    # A second server process on the same PostgreSQL and Redis: the fan-out's other end.
    # (Both apps live in this test's process, so they share one registry.)
    other = await make_client(metrics_token=TOKEN)
    before = await scrape(client)
    assert value(before, "collab_documents_loaded") == 0
    room = live.room()
    await agent.call("connect", name="ed", url=url(client), room=room, token=live.editor.token)
    await agent.call("connect", name="far", url=url(other), room=room, token=live.owner.token)
    await agent.call("connect", name="vi", url=url(client), room=room, token=live.viewer.token)
    during = await scrape(client)
    assert value(during, "collab_socketio_connections", kind="document") == 3
    assert value(during, "collab_documents_loaded") == 2  # one room in each app

    for i in range(5):
        await agent.call("insert", name="ed", index=0, text=f"<{i}>")
    await agent.call("waitLength", name="far", length=15)
    await agent.call("insert", name="vi", index=0, text="refused")  # a viewer: read_only
    await asyncio.sleep(0.5)
    after = await scrape(client)

    assert moved(before, after, "collab_document_updates_applied_total", source="local") >= 5
    assert moved(before, after, "collab_document_updates_applied_total", source="remote") >= 5
    refused = moved(before, after, "collab_document_updates_refused_total", reason="read_only")
    assert refused >= 1
    assert moved(before, after, "collab_document_commit_batch_size_count") >= 1
    assert moved(before, after, "collab_document_commit_batch_size_sum") >= 5
    assert moved(before, after, "collab_document_commit_seconds_count") >= 1
    assert moved(before, after, "collab_document_relay_seconds_count") >= 5
    assert moved(before, after, "collab_fanout_messages_total", direction="out", kind="update") >= 5
    assert moved(before, after, "collab_fanout_messages_total", direction="in", kind="update") >= 5
    assert moved(before, after, "collab_fanout_lag_seconds_count") >= 1

    for name in ("ed", "far", "vi"):
        await agent.call("close", name=name)
    await asyncio.sleep(0.3)
    gone = await scrape(client)
    assert value(gone, "collab_socketio_connections", kind="document") == 0
