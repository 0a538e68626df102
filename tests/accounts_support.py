"""Helpers for account tests: registering people and reading their mail."""

from __future__ import annotations

import re
from email import message_from_bytes
from pathlib import Path
from typing import Any

from collab.state import TASKS
from tests.support import Client

STRONG_PASSWORD = "Correct-Horse-7-Battery"


async def register(client: Client, name: str, password: str = STRONG_PASSWORD) -> dict[str, Any]:
    response = await client.post(
        "/api/auth/register",
        json={"email": f"{name}@example.org", "username": name, "password": password},
    )
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


def bearer(pair: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


async def outbox(client: Client, data_dir: Path) -> list[dict[str, str]]:
    """Every mail written so far, oldest first, after pending sends finish."""
    await client.app[TASKS].drain()
    mails = []
    for path in sorted((data_dir / "outbox").glob("*.eml")):
        message = message_from_bytes(path.read_bytes())
        payload = message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        mails.append({"to": message["To"], "subject": message["Subject"], "body": payload.decode()})
    return mails


async def confirm_email(client: Client, data_dir: Path, address: str) -> None:
    """Open the verification link mailed to `address`, as its owner does."""
    [mail] = [m for m in await outbox(client, data_dir) if m["to"] == address][-1:]
    token = link_token(mail["body"], "/verify-email")
    confirmed = await client.post("/api/auth/verify-email", json={"token": token})
    assert confirmed.status == 200, await confirmed.text()


def link_token(body: str, path: str) -> str:
    match = re.search(rf"{re.escape(path)}\?token=([A-Za-z0-9_-]+)", body)
    assert match, body
    return match[1]
