"""`collab_webhook_deliveries_total` moves with each attempt: a receiver that fails once
gives one `retrying`, then one `delivered`."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.collab.test_metrics import TOKEN, moved, scrape
from tests.support import Client
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_webhooks import FAST, register
from tests.workspace_support import person, workspace


async def test_deliveries_are_counted_by_outcome(make_client: Any, receiver: Receiver) -> None:
    client: Client = await make_client(**FAST, metrics_token=TOKEN)
    owner = await person(client, "whmetrics")
    ws = await workspace(owner)
    hook = await register(owner, ws, receiver.url, ["session.created"])
    before = await scrape(client)
    receiver.failures = [500]
    status, _ = await owner.call(
        "post", f"/api/workspaces/{ws}/webhooks/{hook['webhook_id']}/test", None
    )
    assert status in (200, 202)
    for _ in range(100):
        if len(receiver.received) >= 2:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.2)
    after = await scrape(client)
    assert moved(before, after, "collab_webhook_deliveries_total", outcome="retrying") == 1
    assert moved(before, after, "collab_webhook_deliveries_total", outcome="delivered") == 1
