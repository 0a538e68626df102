"""Webhooks wired into the app: the service, this process's delivery worker, and the small
functions other services are given to emit events (collab/app.py passes them on).

Built after the workspace documents (it asks workspace roles) and before the live sessions
(whose services emit); the worker stops before the pool closes.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg
from aiohttp import web

from auth.users import UserStore
from auth.workspace_store import WorkspaceStore
from auth.workspaces import AfterCommit, WorkspaceAccess
from collab.http.webhook_routes import WEBHOOKS
from collab.model import DocumentKey
from collab.state import DB_POOL, MAILER, SETTINGS, SIGNING_KEYS, WORKSPACE_ACCESS
from collab.webhooks.delivery import DeliveryTiming, DeliveryWorker
from collab.webhooks.events import EmitWebhook
from collab.webhooks.service import WebhookService
from collab.webhooks.store import WebhookStore
from collab.workspace_documents.parts import SecretBox
from kernel import metrics

WEBHOOK_WORKER = web.AppKey("webhook_worker", DeliveryWorker)


async def webhooks_context(app: web.Application) -> AsyncIterator[None]:
    settings, pool = app[SETTINGS], app[DB_POOL]
    box, store, users = SecretBox(app[SIGNING_KEYS]), WebhookStore(), UserStore()

    async def email_of(user_id: uuid.UUID) -> str | None:
        user = await users.by_id(pool, user_id)
        return user.email if user is not None and user.is_active else None

    worker = DeliveryWorker(
        pool,
        store,
        box.open,
        settings.webhook_allowed_hosts,
        app[MAILER],
        email_of,
        DeliveryTiming(
            poll_seconds=settings.webhook_poll_seconds,
            timeout_seconds=settings.webhook_timeout_seconds,
            first_retry_seconds=settings.webhook_first_retry_seconds,
            give_up_after=timedelta(hours=settings.webhook_retry_hours),
        ),
        on_outcome=metrics.webhook_delivery,
    )
    app[WEBHOOKS] = WebhookService(
        pool,
        store,
        app[WORKSPACE_ACCESS],
        box.seal,
        settings.webhook_allowed_hosts,
        worker.wake,
        debounce_seconds=settings.webhook_file_debounce_seconds,
    )
    app[WEBHOOK_WORKER] = worker
    async with worker:
        yield


class MemberWebhooks:
    """A workspace membership follower: member.added when someone gains a place,
    member.removed when they lose it (role changes are not reported)."""

    def __init__(self, access: WorkspaceAccess, emit: EmitWebhook) -> None:
        self._access = access
        self._emit = emit
        self._members = WorkspaceStore()

    async def membership_changing(
        self, conn: asyncpg.Connection, ws_id: uuid.UUID, user_id: uuid.UUID
    ) -> AfterCommit:
        role = await self._access.role_of(ws_id, user_id, conn)
        event: str | None = "member.removed"
        data: dict[str, Any] = {"user_id": str(user_id)}
        if role is not None:
            # New in this transaction: its row was made at the transaction's `now()`.
            now = await conn.fetchval("SELECT now()")
            mine = next(
                (m for m in await self._members.members(conn, ws_id) if m["user_id"] == user_id),
                None,
            )
            event = "member.added" if mine is not None and mine["created_at"] == now else None
            data["role"] = role.value

        async def committed() -> None:
            if event is not None:
                await self._emit(event, ws_id, data, None)

        return committed

    async def workspace_rule_changed(self, ws_id: uuid.UUID) -> None:
        """Requiring two-factor login changes nobody's place: nothing to report."""


def deployment_status(
    emit_to_session: Callable[[uuid.UUID, str, dict[str, Any]], Awaitable[None]],
    document_key: Callable[[uuid.UUID], Awaitable[DocumentKey]],
    emit: EmitWebhook,
) -> Callable[[uuid.UUID, str, dict[str, Any]], Awaitable[None]]:
    """The deployment service's session-event function, also telling the session's
    workspace about `deployment:status`."""

    async def send(session_id: uuid.UUID, event: str, payload: dict[str, Any]) -> None:
        await emit_to_session(session_id, event, payload)
        if event == "deployment:status":
            key = await document_key(session_id)
            if key.in_workspace:
                data = payload | {"session_id": str(session_id)}
                await emit("deployment.status", key.scope_id, data, None)

    return send


async def files_changed(
    emit: EmitWebhook, changed: dict[DocumentKey, str], editors: dict[DocumentKey, list[str]]
) -> None:
    """file.changed for each workspace file, debounced per file: its size and who edited it,
    never its text."""
    for key, text in changed.items():
        if key.in_workspace:
            data = {"path": key.path, "size": len(text.encode()), "editors": editors.get(key, [])}
            await emit("file.changed", key.scope_id, data, f"file:{key.path}")
