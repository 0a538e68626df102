"""Settled deliveries do not pile up: the worker forgets delivered and failed ones (with
their attempts) once they are older than it keeps, and never a pending one."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import asyncpg

from collab.state import DB_POOL, MAILER
from collab.webhooks.delivery import DeliveryTiming, DeliveryWorker
from collab.webhooks.store import WebhookStore
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_delivery import open_session
from tests.webhooks.test_webhooks import FAST, register
from tests.workspace_support import person, workspace


async def _no_email(_: Any) -> str | None:
    return None


async def test_old_settled_deliveries_are_pruned_and_pending_ones_kept(
    make_client: Any, receiver: Receiver, db: asyncpg.Connection
) -> None:
    client = await make_client(**FAST)
    ann = await person(client, "pruner")
    ws = await workspace(ann)
    hook = await register(ann, ws, receiver.url, ["session.created"])
    for n in range(3):
        await open_session(ann, ws, f"s{n}")
    await receiver.wait_for("session.created", 3)
    rows = await db.fetch(
        "SELECT delivery_id FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY created_at",
        hook["webhook_id"],
    )
    deadline = time.monotonic() + 10
    while await db.fetchval(
        "SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1 AND status = 'pending'",
        hook["webhook_id"],
    ):
        assert time.monotonic() < deadline, "the deliveries were not settled"
        await asyncio.sleep(0.05)
    old, failed_old, recent = (r["delivery_id"] for r in rows)
    await db.execute(
        """UPDATE webhook_deliveries SET updated_at = now() - interval '31 days'
           WHERE delivery_id = ANY($1::uuid[])""",
        [old, failed_old],
    )
    await db.execute(
        "UPDATE webhook_deliveries SET status = 'failed' WHERE delivery_id = $1", failed_old
    )
    # An old delivery still waiting for its retry (not due now): never pruned.
    waiting = await db.fetchval(
        """INSERT INTO webhook_deliveries (webhook_id, event, data, next_attempt_at, updated_at)
           VALUES ($1, 'session.created', '{}', now() + interval '1 hour',
                   now() - interval '40 days')
           RETURNING delivery_id""",
        hook["webhook_id"],
    )

    worker = DeliveryWorker(
        client.app[DB_POOL],
        WebhookStore(),
        lambda sealed: "unused",
        ("127.0.0.1",),
        client.app[MAILER],
        _no_email,
        DeliveryTiming(
            poll_seconds=0.05,
            prune_every_seconds=0.1,
            keep_settled=timedelta(days=30),
            prune_batch=1,  # two old rows: two batches, back to back
        ),
    )
    async with worker:
        deadline = time.monotonic() + 10
        while await db.fetchval(
            "SELECT count(*) FROM webhook_deliveries WHERE delivery_id = ANY($1::uuid[])",
            [old, failed_old],
        ):
            assert time.monotonic() < deadline, "nothing was pruned"
            await asyncio.sleep(0.05)

    left = {
        r["delivery_id"]
        for r in await db.fetch(
            "SELECT delivery_id FROM webhook_deliveries WHERE webhook_id = $1",
            hook["webhook_id"],
        )
    }
    assert left == {recent, waiting}
    assert not await db.fetchval(
        "SELECT count(*) FROM webhook_attempts WHERE delivery_id = ANY($1::uuid[])",
        [old, failed_old],
    )
    assert await db.fetchval("SELECT count(*) FROM webhook_attempts WHERE delivery_id = $1", recent)
