"""Any account can make a workspace and register webhooks to any public URL; the
test route queued one more POST (and its rows) per request without limit, making the
server a free sender of requests to someone else's host."""

from __future__ import annotations

from typing import Any

from collab.http.webhook_routes import TEST_LIMIT
from tests.workspace_support import person, workspace


async def test_test_deliveries_have_a_budget(make_client: Any) -> None:
    client = await make_client(webhook_allowed_hosts=("127.0.0.1",), webhook_poll_seconds=60)
    ann = await person(client, "whtestann")
    ws = await workspace(ann)
    status, made = await ann.call(
        "post",
        f"/api/workspaces/{ws}/webhooks",
        {"url": "http://127.0.0.1:9/hook", "events": ["session.created"]},
    )
    assert status == 201, made
    test = f"/api/workspaces/{ws}/webhooks/{made['webhook_id']}/test"
    for _ in range(TEST_LIMIT.max_hits):
        assert (await ann.call("post", test))[0] == 202
    status, body = await ann.call("post", test)
    assert status == 429 and body["error"]["code"] == "rate_limited", body
