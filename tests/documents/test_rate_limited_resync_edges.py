"""Edges of taking back a refused edit (collab.realtime.resync) with a python-socketio
client answering the server's asks as the y-socket.io client does.

An edit over the socket's budget that arrives while the socket has been asked for its diff
(the server's `sync-step-1` is out, its answer not in yet) is carried by that answer: it is
dropped quietly. Refused `rate_limited` instead, no later `sync-step-1` would come, and the
browser IDE, which clears a `rate_limited` notice only on a `sync-step-1` no refusal
follows (web/src/editor/document.ts), would show it for good. (Found by a review.)"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pycrdt
import pytest
import socketio

from tests.documents.test_document_sync import file_text, url
from tests.live_support import live_session

RATE = 5  # messages a second; bursts of twice that


async def test_no_refusal_is_left_after_the_last_ask(make_client: Any) -> None:
    client = await make_client(socket_messages_per_second=RATE)
    live = await live_session(client)
    namespace = f"/yjs|{live.room()}"
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    text = doc.get("content", type=pycrdt.Text)
    events: list[str] = []  # "ask", or a sync-error's code, in the order the client saw them
    sio = socketio.AsyncClient(reconnection=False)

    async def type_(chars: str) -> None:
        for char in chars:
            before = doc.get_state()
            text.insert(len(text), char)
            await sio.emit("sync-update", doc.get_update(before), namespace=namespace)

    async def on_step_1(state_vector: bytes) -> bytes:
        events.append("ask")
        if events.count("ask") == 2:  # the server asks for the refused edits back
            await type_("ABCDEFGHIJKLMNOP")  # typed before the ask arrived
        return doc.get_update(bytes(state_vector))

    sio.on("sync-step-1", on_step_1, namespace=namespace)
    sio.on("sync-error", lambda error: events.append(error["code"]), namespace=namespace)
    await sio.connect(url(client), namespaces=[namespace], auth={"token": live.editor.token})
    try:
        await asyncio.sleep(0.5)  # the connect's own exchange
        await type_("abcdefghijklmnopqrstuvwxyz0123")  # far over a burst of 10
        expected = "abcdefghijklmnopqrstuvwxyz0123ABCDEFGHIJKLMNOP"
        for _ in range(60):
            if events.count("ask") >= 2 and await file_text(client, live) == expected:
                break
            await asyncio.sleep(0.1)
        assert await file_text(client, live) == expected  # nothing lost
        await asyncio.sleep(4)  # 1 s to the next ask, and the page's 3 s
        last_ask = len(events) - 1 - events[::-1].index("ask")
        left = events[last_ask + 1 :]
        assert left == [], f"refusals no later sync-step-1 clears (the notice stays): {left}"
    finally:
        await sio.disconnect()


async def test_an_answer_with_extra_values_is_taken_without_a_traceback(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A client acknowledging the server's `sync-step-1` with more than the diff: the diff
    is taken and nothing is logged as a handler error (it was a TypeError per answer)."""
    client = await make_client()
    live = await live_session(client)
    namespace = f"/yjs|{live.room()}"
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.get("content", type=pycrdt.Text).insert(0, "typed offline")
    sio = socketio.AsyncClient(reconnection=False)

    async def on_step_1(state_vector: bytes) -> tuple[bytes, str]:
        return doc.get_update(bytes(state_vector)), "and something else"

    sio.on("sync-step-1", on_step_1, namespace=namespace)
    await sio.connect(url(client), namespaces=[namespace], auth={"token": live.editor.token})
    try:
        for _ in range(50):
            if await file_text(client, live) == "typed offline":
                break
            await asyncio.sleep(0.1)
        assert await file_text(client, live) == "typed offline"
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors == [], [r.getMessage() for r in errors]
    finally:
        await sio.disconnect()
