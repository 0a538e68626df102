"""What fault tests ask a running server: answers as they are (a 503 is the point), the
stored text of a document, and waiting for readiness."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aiohttp
import asyncpg
import pycrdt

from collab.documents.room import apply_stored
from collab.documents.store import DocumentStore
from collab.model import DocumentKey


async def answer(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    token: str | None = None,
    body: Any = None,
) -> tuple[int, dict[str, str], Any]:
    """(status, headers, JSON body or text) of one call, whatever the status."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.request(method, url, json=body, headers=headers) as response:
        payload = (
            await response.json()
            if response.content_type == "application/json"
            else await response.text()
        )
        return response.status, dict(response.headers), payload


def assert_unavailable(status: int, headers: dict[str, str], body: Any) -> None:
    """The contract's answer while a dependency is down: 503 `unavailable`, Retry-After."""
    assert status == 503, (status, body)
    assert body["error"]["code"] == "unavailable", body
    assert int(headers["Retry-After"]) > 0


async def wait_ready(http: aiohttp.ClientSession, base: str, timeout: float = 20.0) -> float:
    """Seconds until /readyz answers 200 (every dependency answers again)."""
    started = time.monotonic()
    while True:
        status, _, body = await answer(http, "GET", f"{base}/readyz")
        if status == 200:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not ready after {timeout}s: {body}")
        await asyncio.sleep(0.1)


async def stored_text(database_url: str, session_id: str, path: str) -> str:
    """The document as PostgreSQL holds it (not the server's memory): every stored update."""
    conn = await asyncpg.connect(database_url)
    try:
        key = DocumentKey(uuid.UUID(session_id), path)
        stored = await DocumentStore().load(conn, key)
    finally:
        await conn.close()
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    apply_stored(doc, stored, key)
    return str(doc.get("content", type=pycrdt.Text))
