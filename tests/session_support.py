"""Calling the session API as someone, their Socket.IO client, waiting for an event."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import socketio

from tests.live_support import Member
from tests.support import Client


async def call(
    client: Client, who: Member, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {"headers": who.headers}
    if body is not None:
        kwargs["json"] = body
    response = await getattr(client, method)(path, **kwargs)
    text = await response.text()
    try:
        return response.status, json.loads(text) if text else None
    except ValueError:
        return response.status, text


async def socket_for(
    client: Client, member: Member
) -> tuple[socketio.AsyncClient, list[tuple[str, Any]]]:
    sio = socketio.AsyncClient(reconnection=False)
    events: list[tuple[str, Any]] = []
    for name in (
        "participant:joined",
        "participant:left",
        "participant:updated",
        "session:updated",
        "file:created",
        "file:deleted",
        "file:renamed",
    ):
        sio.on(name, lambda data, name=name: events.append((name, data)))
    await sio.connect(
        str(client.make_url("/")),
        auth={"token": member.token},
        transports=["websocket"],
        wait_timeout=5,
    )
    return sio, events


async def wait_for(events: list[tuple[str, Any]], name: str, timeout: float = 5) -> Any:
    for _ in range(int(timeout / 0.05)):
        for event, data in events:
            if event == name:
                return data
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {name} among {events}")
