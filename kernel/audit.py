"""The audit log: every state change, who made it, from where, old and new values, and
free-form `metadata` (method, device, reason...).

Values and metadata pass through `_scrub` so no secret (password, token, hash) is ever
written.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
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


# The action families of a person's security events (`AuditLog.of_user`).
SECURITY_ACTIONS = ("user.%", "auth.%", "token.%", "api_key.%", "device.%", "account.%")

_SELECT = """SELECT log_id, ws_id, user_id, action, resource_type, resource_id, old_value,
                    new_value, metadata, host(ip_address) AS ip_address, user_agent,
                    "timestamp"
             FROM audit_logs"""


def _entry(row: Any) -> dict[str, Any]:
    return {
        **dict(row),
        "ws_id": str(row["ws_id"]) if row["ws_id"] else None,
        "user_id": str(row["user_id"]) if row["user_id"] else None,
        "timestamp": row["timestamp"].isoformat(),
    }


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
        """A workspace's entries, newest first."""
        return await self.search(db, ws_id=ws_id, limit=limit, before=before)

    async def of_user(
        self, db: Executor, user_id: uuid.UUID, *, limit: int, before: int | None
    ) -> list[dict[str, Any]]:
        """A person's security events, newest first: what they did under the security action
        families (logins and failures, two-factor, keys, devices, password, email, the
        account), and whatever anyone did to their account (resource user = them)."""
        rows = await db.fetch(
            f"""{_SELECT}
                WHERE ((user_id = $1 AND action LIKE ANY($2::text[]))
                       OR (resource_type = 'user' AND resource_id = $1::text))
                  AND ($3::int IS NULL OR log_id < $3)
                ORDER BY log_id DESC LIMIT $4""",
            user_id,
            list(SECURITY_ACTIONS),
            before,
            limit,
        )
        # Someone else's action on the account (an admin's deactivation…) is shown, not where
        # they were or what they used: their address and browser are theirs.
        return [
            _entry(r)
            if r["user_id"] == user_id  # a purged actor's entries (NULL) are not theirs either
            else {**_entry(r), "ip_address": None, "user_agent": None}
            for r in rows
        ]

    async def about(
        self,
        db: Executor,
        targets: Iterable[tuple[str, str]],
        *,
        limit: int,
        before: int | None,
    ) -> list[dict[str, Any]]:
        """Entries about any of these (resource_type, resource_id) targets, newest first."""
        pairs = list(targets)
        rows = await db.fetch(
            f"""{_SELECT}
                WHERE (resource_type, resource_id) IN (
                        SELECT * FROM unnest($1::text[], $2::text[]))
                  AND ($3::int IS NULL OR log_id < $3)
                ORDER BY log_id DESC LIMIT $4""",
            [t for t, _ in pairs],
            [i for _, i in pairs],
            before,
            limit,
        )
        return [_entry(r) for r in rows]

    async def search(
        self,
        db: Executor,
        *,
        actor: uuid.UUID | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        action: str | None = None,
        ws_id: uuid.UUID | None = None,
        limit: int,
        before: int | None,
    ) -> list[dict[str, Any]]:
        """Any entries, newest first; `action` ending in `.*` names a family."""
        pattern = None
        if action:
            exact = action[:-2] if action.endswith(".*") else action
            pattern = exact.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
            pattern += ".%" if action.endswith(".*") else ""
        rows = await db.fetch(
            f"""{_SELECT}
                WHERE ($1::uuid IS NULL OR user_id = $1)
                  AND ($2::text IS NULL OR resource_type = $2)
                  AND ($3::text IS NULL OR resource_id = $3)
                  AND ($4::text IS NULL OR action LIKE $4)
                  AND ($5::uuid IS NULL OR ws_id = $5)
                  AND ($6::int IS NULL OR log_id < $6)
                ORDER BY log_id DESC LIMIT $7""",
            actor,
            target_type,
            target_id,
            pattern,
            ws_id,
            before,
            limit,
        )
        return [_entry(r) for r in rows]


def page_of(items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """A route's answer: the entries, and the `before` that reads on (None at the end)."""
    return {"items": items, "next_before": items[-1]["log_id"] if len(items) == limit else None}
