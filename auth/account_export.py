"""`GET /api/auth/me/export`: everything stored about one user, as one JSON archive.

Rows are read whole (`to_jsonb`) and then stripped of every column whose name marks a secret
(hashes, sealed values, passwords, recovery codes), so a column another migration adds shows
up in the export without leaking: a new `*_hash` or `*_sealed` column is left out by name.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from kernel.sql import Executor

# A column is left out when its name contains one of these.
SECRET_MARKERS = ("hash", "secret", "sealed", "password", "recovery", "verifier", "otp_")

ARCHIVE_VERSION = 1


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _strip(v)
            for k, v in value.items()
            if not any(marker in k.lower() for marker in SECRET_MARKERS)
        }
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


async def _rows(db: Executor, sql: str, *args: Any) -> list[Any]:
    return [_strip(r["row"]) for r in await db.fetch(sql, *args)]


async def _table_exists(db: Executor, name: str) -> bool:
    return bool(await db.fetchval("SELECT to_regclass($1) IS NOT NULL", name))


Part = Callable[[], Awaitable[Any]]


async def export_user(
    db: Executor, user_id: uuid.UUID, parts: Mapping[str, Part]
) -> dict[str, Any]:
    """The archive; the caller audits that it was taken. `parts` are what other packages
    keep (sessions, audit entries), each asked of its owner and stripped the same way."""
    profile = await db.fetchval("SELECT to_jsonb(u) FROM users u WHERE user_id = $1", user_id)
    email = (profile or {}).get("email", "")
    archive: dict[str, Any] = {
        "format": ARCHIVE_VERSION,
        "exported_at": datetime.now(UTC).isoformat(),
        "profile": _strip(profile),
        "workspace_memberships": await _rows(
            db,
            """SELECT to_jsonb(p) || jsonb_build_object('workspace_name', w.name) AS row
               FROM workspace_permissions p JOIN workspaces w USING (ws_id)
               WHERE p.user_id = $1 ORDER BY p.created_at""",
            user_id,
        ),
        "workspace_invitations_made": await _rows(
            db,
            "SELECT to_jsonb(i) AS row FROM workspace_invitations i WHERE invited_by = $1",
            user_id,
        ),
        "workspace_invitations_received": await _rows(
            db,
            """SELECT to_jsonb(i) AS row FROM workspace_invitations i
               WHERE invited_user_id = $1 OR lower(invited_email) = lower($2)""",
            user_id,
            email,
        ),
        "logins": await _rows(
            db,
            """SELECT to_jsonb(t) AS row FROM refresh_tokens t WHERE user_id = $1
               ORDER BY created_at""",
            user_id,
        ),
    }
    # API keys (metadata only: the key's hash is stripped like every hash) and devices.
    archive["api_keys"] = (
        await _rows(db, "SELECT to_jsonb(k) AS row FROM api_keys k WHERE user_id = $1", user_id)
        if await _table_exists(db, "api_keys")
        else []
    )
    archive["devices"] = (
        await _rows(db, "SELECT to_jsonb(d) AS row FROM logins d WHERE user_id = $1", user_id)
        if await _table_exists(db, "logins")
        else []
    )
    for name, part in parts.items():
        archive[name] = _strip(await part())
    return archive
