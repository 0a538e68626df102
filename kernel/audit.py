"""The audit log: every state change, who made it, from where, old and new values, and
free-form `metadata` (method, device, reason...).

Values and metadata pass through `_scrub` so no secret (password, token, hash) is ever
written.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from kernel.context import ClientInfo
from kernel.sql import Executor

_SECRET_MARKERS = ("password", "token", "secret", "hash", "code_verifier")


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: "[redacted]" if any(m in k.lower() for m in _SECRET_MARKERS) else _scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class AuditEntry:
    action: str
    user_id: uuid.UUID | None = None
    ws_id: uuid.UUID | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    old_value: dict[str, Any] | None = None
    new_value: dict[str, Any] | None = None


class AuditLog:
    async def record(
        self,
        db: Executor,
        entry: AuditEntry,
        client: ClientInfo | None,
        *,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        await db.execute(
            """INSERT INTO audit_logs (ws_id, user_id, action, resource_type, resource_id,
                                       old_value, new_value, ip_address, user_agent, metadata)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8::inet, $9, $10)""",
            entry.ws_id,
            entry.user_id,
            entry.action,
            entry.resource_type,
            entry.resource_id,
            _scrub(entry.old_value) if entry.old_value is not None else None,
            _scrub(entry.new_value) if entry.new_value is not None else None,
            client.ip if client else None,
            (client.user_agent or "")[:1000] if client else None,
            _scrub(metadata) if metadata is not None else None,
        )

    async def page(
        self, db: Executor, ws_id: uuid.UUID, *, limit: int, before: int | None
    ) -> list[dict[str, Any]]:
        rows = await db.fetch(
            """SELECT log_id, ws_id, user_id, action, resource_type, resource_id, old_value,
                      new_value, metadata, host(ip_address) AS ip_address, user_agent,
                      "timestamp"
               FROM audit_logs
               WHERE ws_id = $1 AND ($2::int IS NULL OR log_id < $2)
               ORDER BY log_id DESC LIMIT $3""",
            ws_id,
            before,
            limit,
        )
        return [
            {
                **dict(r),
                "ws_id": str(r["ws_id"]),
                "timestamp": r["timestamp"].isoformat(),
                "user_id": str(r["user_id"]) if r["user_id"] else None,
            }
            for r in rows
        ]
