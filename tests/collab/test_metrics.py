"""`GET /metrics`: who may scrape, and each family the issue lists moves when its event
happens (read as a Prometheus server reads it: the text format, parsed)."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.support import Client

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


async def test_metrics_are_off_without_a_token(client: Client) -> None:
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
