"""The only SQL on `webhooks`, `webhook_deliveries` and `webhook_attempts`.

A delivery is claimed by moving its `next_attempt_at` past a lease and counting the attempt,
in one statement over rows locked `FOR UPDATE SKIP LOCKED`: two processes never claim the
same attempt, and a process that dies mid-POST leaves the delivery due again once the lease
has passed (the next try is a new attempt, with its own number).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from kernel.sql import Executor

_PUBLIC = """webhook_id, ws_id, url, events, description, enabled, disabled_reason,
             created_by, created_at, updated_at"""


@dataclass(frozen=True)
class Claimed:
    delivery_id: uuid.UUID
    webhook_id: uuid.UUID
    ws_id: uuid.UUID
    url: str
    secret_sealed: dict[str, str]
    event: str
    data: dict[str, Any]
    created_at: datetime
    attempt: int  # this attempt's number, from 1


class WebhookStore:
    async def create(
        self,
        db: Executor,
        ws_id: uuid.UUID,
        url: str,
        events: list[str],
        description: str | None,
        secret_sealed: dict[str, str],
        created_by: uuid.UUID,
    ) -> asyncpg.Record:
        row = await db.fetchrow(
            f"""INSERT INTO webhooks (ws_id, url, events, description, secret_sealed, created_by)
                VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_PUBLIC}""",
            ws_id,
            url,
            events,
            description,
            secret_sealed,
            created_by,
        )
        assert row is not None
        return row

    async def of_workspace(self, db: Executor, ws_id: uuid.UUID) -> list[asyncpg.Record]:
        return list(
            await db.fetch(
                f"SELECT {_PUBLIC} FROM webhooks WHERE ws_id = $1 ORDER BY created_at, webhook_id",
                ws_id,
            )
        )

    async def get(
        self, db: Executor, ws_id: uuid.UUID, webhook_id: uuid.UUID
    ) -> asyncpg.Record | None:
        return await db.fetchrow(
            f"SELECT {_PUBLIC}, secret_sealed FROM webhooks WHERE ws_id = $1 AND webhook_id = $2",
            ws_id,
            webhook_id,
        )

    async def update(
        self, db: Executor, webhook_id: uuid.UUID, changes: dict[str, Any]
    ) -> asyncpg.Record:
        # Column names come from the service's own patch model, never from a client.
        columns = list(changes)
        assignments = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(columns))
        row = await db.fetchrow(
            f"""UPDATE webhooks SET {assignments}, updated_at = now()
                WHERE webhook_id = $1 RETURNING {_PUBLIC}""",
            webhook_id,
            *changes.values(),
        )
        assert row is not None
        return row

    async def delete(self, db: Executor, ws_id: uuid.UUID, webhook_id: uuid.UUID) -> bool:
        status: str = await db.execute(
            "DELETE FROM webhooks WHERE ws_id = $1 AND webhook_id = $2", ws_id, webhook_id
        )
        return status.endswith(" 1")

    async def subscribers(self, db: Executor, ws_id: uuid.UUID, event: str) -> list[uuid.UUID]:
        rows = await db.fetch(
            "SELECT webhook_id FROM webhooks WHERE ws_id = $1 AND enabled AND $2 = ANY(events)",
            ws_id,
            event,
        )
        return [r["webhook_id"] for r in rows]

    async def enqueue(
        self,
        db: Executor,
        webhook_ids: list[uuid.UUID],
        event: str,
        data: dict[str, Any],
        debounce_key: str | None,
        due_in_seconds: float,
    ) -> None:
        """One delivery per endpoint. With a debounce key, a delivery of that key still
        waiting for its first attempt takes the new data instead (the editors merged), and
        keeps its due time: a file typed into without pause is reported once per window."""
        await db.execute(
            """INSERT INTO webhook_deliveries (webhook_id, event, data, debounce_key,
                                               next_attempt_at)
               SELECT id, $2, $3::jsonb, $4, now() + make_interval(secs => $5)
               FROM unnest($1::uuid[]) AS id
               ON CONFLICT (webhook_id, debounce_key)
                   WHERE status = 'pending' AND attempts = 0 AND debounce_key IS NOT NULL
               DO UPDATE SET
                   data = EXCLUDED.data || jsonb_build_object('editors', (
                       SELECT coalesce(jsonb_agg(DISTINCT e), '[]'::jsonb)
                       FROM jsonb_array_elements(
                           coalesce(webhook_deliveries.data -> 'editors', '[]'::jsonb)
                           || coalesce(EXCLUDED.data -> 'editors', '[]'::jsonb)) AS e)),
                   updated_at = now()""",
            webhook_ids,
            event,
            data,
            debounce_key,
            due_in_seconds,
        )

    async def claim(self, db: Executor, limit: int, lease_seconds: float) -> list[Claimed]:
        rows = await db.fetch(
            """WITH due AS (
                   SELECT d.delivery_id
                   FROM webhook_deliveries d JOIN webhooks w USING (webhook_id)
                   WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND w.enabled
                   ORDER BY d.next_attempt_at
                   LIMIT $1
                   FOR UPDATE OF d SKIP LOCKED)
               UPDATE webhook_deliveries d
               SET attempts = d.attempts + 1,
                   next_attempt_at = now() + make_interval(secs => $2),
                   updated_at = now()
               FROM due, webhooks w
               WHERE d.delivery_id = due.delivery_id AND w.webhook_id = d.webhook_id
               RETURNING d.delivery_id, d.webhook_id, w.ws_id, w.url, w.secret_sealed,
                         d.event, d.data, d.created_at, d.attempts""",
            limit,
            lease_seconds,
        )
        return [
            Claimed(
                r["delivery_id"],
                r["webhook_id"],
                r["ws_id"],
                r["url"],
                r["secret_sealed"],
                r["event"],
                r["data"],
                r["created_at"],
                r["attempts"],
            )
            for r in rows
        ]

    async def record_attempt(
        self,
        db: Executor,
        claimed: Claimed,
        status_code: int | None,
        duration_ms: int,
        error: str | None,
    ) -> None:
        await db.execute(
            """INSERT INTO webhook_attempts (delivery_id, webhook_id, attempt, status_code,
                                             duration_ms, error, started_at)
               VALUES ($1, $2, $3, $4, $5, $6, now() - $5::integer * interval '1 millisecond')""",
            claimed.delivery_id,
            claimed.webhook_id,
            claimed.attempt,
            status_code,
            duration_ms,
            error[:1000] if error else None,
        )

    async def finish(
        self,
        db: Executor,
        delivery_id: uuid.UUID,
        attempt: int,
        status: str,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Settle this attempt (unless a later attempt has since been claimed)."""
        result: str = await db.execute(
            """UPDATE webhook_deliveries
               SET status = $3, next_attempt_at = coalesce($4, next_attempt_at),
                   updated_at = now()
               WHERE delivery_id = $1 AND attempts = $2 AND status = 'pending'""",
            delivery_id,
            attempt,
            status,
            next_attempt_at,
        )
        return result.endswith(" 1")

    async def prune(self, db: Executor, older_than: timedelta, limit: int) -> int:
        """Forget up to `limit` settled deliveries (delivered or failed) last touched before
        `older_than` ago, with their attempts (cascade); how many went. Pending ones stay."""
        result: str = await db.execute(
            """DELETE FROM webhook_deliveries WHERE delivery_id IN (
                   SELECT delivery_id FROM webhook_deliveries
                   WHERE status <> 'pending' AND updated_at < now() - $1::interval
                   LIMIT $2
                   FOR UPDATE SKIP LOCKED)""",
            older_than,
            limit,
        )
        return int(result.split()[-1])

    async def disable(
        self, db: Executor, webhook_id: uuid.UUID, reason: str
    ) -> asyncpg.Record | None:
        """Turn an endpoint off; its row, or None when it was already off."""
        return await db.fetchrow(
            f"""UPDATE webhooks SET enabled = false, disabled_reason = $2, updated_at = now()
                WHERE webhook_id = $1 AND enabled RETURNING {_PUBLIC}""",
            webhook_id,
            reason,
        )

    async def attempts(
        self, db: Executor, webhook_id: uuid.UUID, limit: int, before: int | None
    ) -> list[asyncpg.Record]:
        return list(
            await db.fetch(
                """SELECT a.attempt_id, a.delivery_id, d.event, a.attempt, a.started_at,
                          a.status_code, a.duration_ms, a.error, d.status AS delivery_status,
                          d.next_attempt_at
                   FROM webhook_attempts a JOIN webhook_deliveries d USING (delivery_id)
                   WHERE a.webhook_id = $1 AND ($2::bigint IS NULL OR a.attempt_id < $2)
                   ORDER BY a.attempt_id DESC LIMIT $3""",
                webhook_id,
                before,
                limit,
            )
        )

    async def pending_count(self, db: Executor, webhook_id: uuid.UUID) -> int:
        count: int = await db.fetchval(
            "SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1 AND status = 'pending'",
            webhook_id,
        )
        return count
