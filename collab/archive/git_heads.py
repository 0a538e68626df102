"""The `git_heads` table: the commit each workspace last pulled or pushed (its base)."""

from __future__ import annotations

import uuid

import asyncpg


async def base(pool: asyncpg.Pool, ws_id: uuid.UUID, remote_url: str, branch: str) -> str | None:
    """The commit last synced with this remote and branch (None for another remote/branch)."""
    value: str | None = await pool.fetchval(
        "SELECT commit_sha FROM git_heads WHERE ws_id = $1 AND remote_url = $2 AND branch = $3",
        ws_id,
        remote_url,
        branch,
    )
    return value


async def record(
    pool: asyncpg.Pool, ws_id: uuid.UUID, remote_url: str, branch: str, commit: str
) -> None:
    await pool.execute(
        """
        INSERT INTO git_heads (ws_id, remote_url, branch, commit_sha) VALUES ($1, $2, $3, $4)
        ON CONFLICT (ws_id) DO UPDATE
        SET remote_url = $2, branch = $3, commit_sha = $4, updated_at = now()
        """,
        ws_id,
        remote_url,
        branch,
        commit,
    )
