"""Webhooks end to end: a real server (PostgreSQL, Redis), a receiver on loopback allowed by
COLLAB_WEBHOOK_ALLOWED_HOSTS, the routes, the events, signatures, retries, restarts, two
workers racing, and SSRF refusals."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import Client
from tests.webhooks.receiver import Receiver
from tests.workspace_support import Person, member, person, workspace

FAST = {
    "webhook_allowed_hosts": ("127.0.0.1",),
    "webhook_poll_seconds": 0.1,
    "webhook_first_retry_seconds": 0.3,
    "webhook_file_debounce_seconds": 0.5,
}


async def register(owner: Person, ws: str, url: str, events: list[str]) -> dict[str, Any]:
    status, body = await owner.call(
        "post", f"/api/workspaces/{ws}/webhooks", {"url": url, "events": events}
    )
    assert status == 201, body
    return dict(body)


async def test_routes_secret_once_and_roles(make_client: Any, receiver: Receiver) -> None:
    client: Client = await make_client(**FAST)
    ann, bob, cat = [await person(client, n) for n in ("whann", "whbob", "whcat")]
    ws = await workspace(ann)
    await member(ann, ws, bob, "admin")
    await member(ann, ws, cat, "editor")
    created = await register(bob, ws, receiver.url, ["session.created"])
    assert created["secret"].startswith("whsec_") and created["enabled"] is True
    status, listed = await ann.call("get", f"/api/workspaces/{ws}/webhooks")
    assert status == 200 and [w["webhook_id"] for w in listed] == [created["webhook_id"]]
    assert "secret" not in listed[0] and "secret_sealed" not in listed[0]
    assert (await cat.call("get", f"/api/workspaces/{ws}/webhooks"))[0] == 403
    hook = f"/api/workspaces/{ws}/webhooks/{created['webhook_id']}"
    status, body = await cat.call(
        "post", f"/api/workspaces/{ws}/webhooks", {"url": receiver.url, "events": ["file.changed"]}
    )
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body = await ann.call("patch", hook, {"events": ["nope"]})
    assert status == 422 and body["error"]["code"] == "validation_failed"
    status, body = await ann.call("patch", hook, {"events": ["file.changed"], "description": "d"})
    assert status == 200 and body["events"] == ["file.changed"] and body["description"] == "d"
    assert (await ann.call("delete", hook))[0] == 204
    assert (await ann.call("delete", hook))[0] == 404


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "ftp://example.com/",
    ],
)
async def test_internal_urls_are_refused_without_the_operator_list(
    client: Client, url: str
) -> None:
    ann = await person(client, "ssrfann")
    ws = await workspace(ann)
    status, body = await ann.call(
        "post", f"/api/workspaces/{ws}/webhooks", {"url": url, "events": ["session.created"]}
    )
    assert status == 422 and body["error"]["code"] == "validation_failed", body
    assert "url" in body["error"]["details"]
    assert (await ann.call("get", f"/api/workspaces/{ws}/webhooks"))[1] == []


async def test_a_name_resolving_to_loopback_is_refused_when_dialled() -> None:
    from collab.webhooks.delivery import GuardedResolver

    resolver = GuardedResolver(frozenset())
    with pytest.raises(OSError, match="loopback"):
        await resolver.resolve("localhost", 80)
    allowed = GuardedResolver(frozenset({"localhost"}))
    assert await allowed.resolve("localhost", 80)
    await resolver.close()
    await allowed.close()
