"""Webhook decisions: who manages a workspace's endpoints, what is queued for whom.

Owners and admins of a workspace register, list, change, test and delete its endpoints and
read their delivery attempts. The signing secret is answered once, at creation, and kept
sealed (and never audited). Registering, changing, testing and deleting an endpoint are in
the workspace's audit log (`webhook.*`): an endpoint is where the workspace's events go.
`emit` is what the other services are given (as an `EmitWebhook`): it queues one delivery
per enabled endpoint that subscribed to the event, and never raises.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Collection
from typing import Annotated, Any

import asyncpg
from pydantic import AfterValidator, Field

from auth.roles import Role
from auth.workspaces import WorkspaceAccess
from collab.webhooks import signing, ssrf
from collab.webhooks.events import EVENTS
from collab.webhooks.store import WebhookStore
from kernel.audit import AuditEntry, AuditLog
from kernel.context import Actor
from kernel.errors import Conflict, NotFound, ValidationFailed
from kernel.validation import Input, Text

log = logging.getLogger(__name__)

TEST_EVENT = "webhook.test"
MAX_WEBHOOKS_PER_WORKSPACE = 20


def _unique(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise ValueError(f"unknown events {unknown}; known: {list(EVENTS)}")
    if len(set(events)) != len(events):
        raise ValueError("must not repeat an event")
    return events


Events = Annotated[
    list[Annotated[str, Field(max_length=64)]],
    Field(min_length=1, max_length=len(EVENTS)),
    AfterValidator(_unique),
]


class WebhookInput(Input):
    url: Text(2048, 1)  # type: ignore[valid-type]
    events: Events
    description: Text(500) | None = None  # type: ignore[valid-type]


class WebhookPatch(Input):
    url: Text(2048, 1) | None = None  # type: ignore[valid-type]
    events: Events | None = None
    description: Text(500) | None = None  # type: ignore[valid-type]
    # Turning an endpoint back on after it was disabled for failing.
    enabled: bool | None = None


def public(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "webhook_id": str(row["webhook_id"]),
        "ws_id": str(row["ws_id"]),
        "url": row["url"],
        "events": list(row["events"]),
        "description": row["description"],
        "enabled": row["enabled"],
        "disabled_reason": row["disabled_reason"],
        "created_by": str(row["created_by"]) if row["created_by"] else None,
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


def _audited(row: asyncpg.Record, names: Collection[str]) -> dict[str, Any]:
    """These columns of a webhook, as its audit entry keeps them (never the secret)."""
    kept = (n for n in names if n in ("url", "events", "description", "enabled"))
    return {n: list(row[n]) if n == "events" else row[n] for n in kept}


def attempt(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "attempt_id": row["attempt_id"],
        "delivery_id": str(row["delivery_id"]),
        "event": row["event"],
        "attempt": row["attempt"],
        "started_at": row["started_at"].isoformat(),
        "status_code": row["status_code"],
        "duration_ms": row["duration_ms"],
        "error": row["error"],
        # The delivery's state now: pending (another attempt is due), delivered, failed.
        "delivery_status": row["delivery_status"],
        "next_attempt_at": (
            row["next_attempt_at"].isoformat() if row["delivery_status"] == "pending" else None
        ),
    }


class WebhookService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: WebhookStore,
        access: WorkspaceAccess,
        seal: Callable[[str], dict[str, str]],
        allowed_hosts: Collection[str],
        wake: Callable[[], None],
        *,
        debounce_seconds: float = 5.0,
    ) -> None:
        self._pool = pool
        self._store = store
        self._access = access
        self._seal = seal
        self._allowed = frozenset(h.rstrip(".").lower() for h in allowed_hosts)
        self._wake = wake
        self._debounce_seconds = debounce_seconds
        self._audit = AuditLog()

    async def _record(
        self,
        db: Any,
        actor: Actor,
        action: str,
        ws_id: uuid.UUID,
        webhook_id: uuid.UUID,
        *,
        old_value: dict[str, Any] | None = None,
        new_value: dict[str, Any] | None = None,
    ) -> None:
        await self._audit.record(
            db,
            AuditEntry(
                action,
                actor.user_id,
                ws_id,
                "webhook",
                str(webhook_id),
                old_value=old_value,
                new_value=new_value,
            ),
            actor.client,
        )

    def _check_url(self, url: str) -> None:
        try:
            target = ssrf.parse_url(url)
        except ssrf.RefusedUrl as exc:
            raise ValidationFailed({"url": str(exc)}) from None
        reason = ssrf.host_refusal(target.host, self._allowed)
        if reason is not None:
            raise ValidationFailed(
                {"url": f"refused: {reason} (an operator may allow it)"},
                "This URL points inside the server's network.",
            )

    async def _require(
        self, db: Any, actor: Actor, ws_id: uuid.UUID, *, lock: bool = False
    ) -> None:
        await self._access.require(db, actor, ws_id, Role.ADMIN, lock=lock)
        # Endpoints carry the workspace's sessions and its files' paths anywhere: refused, as
        # its sessions and documents are, to someone without the two-factor login it requires.
        await self._access.check_mfa(ws_id, actor.user_id, db)

    async def create(self, actor: Actor, ws_id: uuid.UUID, data: WebhookInput) -> dict[str, Any]:
        self._check_url(data.url)
        secret = signing.new_secret()
        async with self._pool.acquire() as conn, conn.transaction():
            await self._require(conn, actor, ws_id, lock=True)
            if len(await self._store.of_workspace(conn, ws_id)) >= MAX_WEBHOOKS_PER_WORKSPACE:
                raise Conflict(f"A workspace holds at most {MAX_WEBHOOKS_PER_WORKSPACE} webhooks.")
            row = await self._store.create(
                conn,
                ws_id,
                data.url,
                list(data.events),
                data.description,
                self._seal(secret),
                actor.user_id,
            )
            await self._record(
                conn,
                actor,
                "webhook.created",
                ws_id,
                row["webhook_id"],
                new_value=_audited(row, ("url", "events", "description")),
            )
        return public(row) | {"secret": secret}

    async def list(self, actor: Actor, ws_id: uuid.UUID) -> list[dict[str, Any]]:
        await self._require(self._pool, actor, ws_id)
        return [public(r) for r in await self._store.of_workspace(self._pool, ws_id)]

    async def _one(self, db: Any, ws_id: uuid.UUID, webhook_id: uuid.UUID) -> asyncpg.Record:
        row = await self._store.get(db, ws_id, webhook_id)
        if row is None:
            raise NotFound("No such webhook.")
        return row

    async def get(self, actor: Actor, ws_id: uuid.UUID, webhook_id: uuid.UUID) -> dict[str, Any]:
        await self._require(self._pool, actor, ws_id)
        return public(await self._one(self._pool, ws_id, webhook_id))

    async def update(
        self, actor: Actor, ws_id: uuid.UUID, webhook_id: uuid.UUID, patch: WebhookPatch
    ) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for name in patch.model_fields_set:
            value = getattr(patch, name)
            if value is None and name != "description":
                raise ValidationFailed({name: "must not be null"})
            changes[name] = list(value) if name == "events" else value
        if "url" in changes:
            self._check_url(changes["url"])
        if changes.get("enabled") is True:
            changes["disabled_reason"] = None
        async with self._pool.acquire() as conn, conn.transaction():
            await self._require(conn, actor, ws_id)
            row = await self._one(conn, ws_id, webhook_id)
            if changes:
                old_value = _audited(row, changes)
                row = await self._store.update(conn, webhook_id, changes)
                await self._record(
                    conn,
                    actor,
                    "webhook.updated",
                    ws_id,
                    webhook_id,
                    old_value=old_value,
                    new_value=_audited(row, changes),
                )
        return public(row)

    async def delete(self, actor: Actor, ws_id: uuid.UUID, webhook_id: uuid.UUID) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await self._require(conn, actor, ws_id)
            row = await self._one(conn, ws_id, webhook_id)
            if not await self._store.delete(conn, ws_id, webhook_id):
                raise NotFound("No such webhook.")
            await self._record(
                conn,
                actor,
                "webhook.deleted",
                ws_id,
                webhook_id,
                old_value=_audited(row, ("url", "events", "description", "enabled")),
            )

    async def test(self, actor: Actor, ws_id: uuid.UUID, webhook_id: uuid.UUID) -> dict[str, Any]:
        """Queue a `webhook.test` delivery to this endpoint now."""
        await self._require(self._pool, actor, ws_id)
        row = await self._one(self._pool, ws_id, webhook_id)
        if not row["enabled"]:
            raise Conflict("This webhook is disabled; enable it first.")
        data = {"webhook_id": str(webhook_id), "requested_by": str(actor.user_id)}
        async with self._pool.acquire() as conn, conn.transaction():
            await self._store.enqueue(conn, [webhook_id], TEST_EVENT, data, None, 0)
            await self._record(conn, actor, "webhook.tested", ws_id, webhook_id)
        self._wake()
        return {"queued": True, "event": TEST_EVENT}

    async def deliveries(
        self,
        actor: Actor,
        ws_id: uuid.UUID,
        webhook_id: uuid.UUID,
        *,
        limit: int,
        before: int | None,
    ) -> dict[str, Any]:
        """Attempts, newest first, with `next_before` to read on."""
        await self._require(self._pool, actor, ws_id)
        await self._one(self._pool, ws_id, webhook_id)
        rows = await self._store.attempts(self._pool, webhook_id, limit, before)
        items = [attempt(r) for r in rows]
        return {
            "items": items,
            "next_before": items[-1]["attempt_id"] if len(items) == limit else None,
        }

    # -- what services are given -------------------------------------------------------------

    async def emit(
        self,
        event: str,
        ws_id: uuid.UUID,
        data: dict[str, Any],
        debounce_key: str | None = None,
    ) -> None:
        """Queue the event for every enabled endpoint of the workspace that wants it."""
        try:
            webhook_ids = await self._store.subscribers(self._pool, ws_id, event)
            if not webhook_ids:
                return
            delay = self._debounce_seconds if debounce_key is not None else 0.0
            await self._store.enqueue(self._pool, webhook_ids, event, data, debounce_key, delay)
            if delay == 0:
                self._wake()
        except Exception:
            # The action that caused the event has happened; its webhook is lost, logged.
            log.exception("queueing webhook event %s for workspace %s failed", event, ws_id)
