"""Hostile payloads to every Socket.IO event on a live server: random and truncated binary,
wrong types, huge arrays. The server stays up, answers `sync-error` or an `{ok:false}` ack
(or nothing, for events that take none), and the document keeps its text."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import pycrdt
import socketio
from aiohttp import web
from aiohttp.test_utils import TestClient

from collab.http.apidoc import asyncapi
from tests.live_support import LiveSession

Client = TestClient[web.Request, web.Application]
CASES_PER_EVENT = 40


def _payloads(rng: random.Random, valid_update: bytes) -> list[Any]:
    cut = rng.randrange(1, len(valid_update))
    return [
        rng.randbytes(rng.randrange(0, 64)),
        valid_update[:cut],
        valid_update[cut:],
        bytes([rng.randrange(256)]) + valid_update[1:],
        rng.choice([None, True, 0, -1, 2**63, 1.5, "", "x" * 1000, {}, [], {"session_id": 7}]),
        {"session_id": "../../etc", "deployment_id": [], "terminal_id": {"$ne": 1}},
        list(range(rng.choice([10, 10_000, 100_000]))),
        [[[[[]]]]] * 1000,
        {"k" * 100: "v" * 10_000},
    ]


async def _connect(client: Client, token: str, namespace: str) -> socketio.AsyncClient:
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        str(client.make_url("/")),
        auth={"token": token},
        transports=["websocket"],
        namespaces=[namespace],
        wait_timeout=5,
    )
    return sio


async def test_every_event_survives_hostile_payloads(client: Client, live: LiveSession) -> None:
    rng = random.Random(13)
    namespace = f"/yjs|{live.room('main.py')}"
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    text = doc.get("content", type=pycrdt.Text)
    text += "kept as it is"
    valid_update = doc.get_update()

    editor = await _connect(client, live.editor.token, namespace)
    await editor.emit("sync-update", valid_update, namespace=namespace)
    for _ in range(100):
        response = await client.get(
            f"/api/sessions/{live.session_id}/files/main.py", headers=live.owner.headers
        )
        if response.status == 200 and await response.text() == "kept as it is":
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the valid update was not stored")

    counts: Counter[str] = Counter()
    errors: list[Any] = []
    fuzzer = await _connect(client, live.editor.token, namespace)
    fuzzer.on("sync-error", lambda data: errors.append(data), namespace=namespace)
    root = socketio.AsyncClient(reconnection=False)
    await root.connect(
        str(client.make_url("/")),
        auth={"token": live.editor.token},
        transports=["websocket"],
        wait_timeout=5,
    )
    events = [(namespace, name, fuzzer) for name in asyncapi.DOCUMENT_CLIENT] + [
        ("/", name, root) for name in asyncapi.ROOT_CLIENT
    ]
    for ns, event, sio in events:
        for _ in range(CASES_PER_EVENT // 9 + 1):
            for payload in _payloads(rng, valid_update):
                counts["cases"] += 1
                if not sio.connected:
                    counts["reconnected"] += 1
                    sio = await (
                        _connect(client, live.editor.token, ns)
                        if ns != "/"
                        else _root(client, live)
                    )
                try:
                    answer = await sio.call(event, payload, namespace=ns, timeout=2)
                except socketio.exceptions.TimeoutError:
                    counts["no ack"] += 1
                    continue
                except socketio.exceptions.BadNamespaceError:
                    counts["disconnected"] += 1
                    continue
                if isinstance(answer, dict) and answer.get("ok") is False:
                    assert set(answer["error"]) >= {"code", "message"}, answer
                    counts["ok:false"] += 1
                else:
                    # Only the binary sync events answer data: never for a root event.
                    assert ns != "/" or (isinstance(answer, dict) and answer.get("ok")), answer
                    counts["answered"] += 1
    # Let the refusals arrive, then check what each was.
    await asyncio.sleep(0.5)
    codes = Counter(e["code"] for e in errors if isinstance(e, dict))
    print(f"\nsocket.io fuzz: {dict(counts)}; sync-error codes {dict(codes)}")
    assert codes["invalid_update"] > 0
    assert counts["ok:false"] > 0

    # Still up, and the document is unharmed (stored and as a new client sees it).
    assert (await client.get("/healthz")).status == 200
    response = await client.get(
        f"/api/sessions/{live.session_id}/files/main.py", headers=live.owner.headers
    )
    assert await response.text() == "kept as it is"
    late: pycrdt.Doc[Any] = pycrdt.Doc()
    observer = await _connect(client, live.viewer.token, namespace)
    diff = await observer.call("sync-step-1", late.get_state(), namespace=namespace, timeout=5)
    late.apply_update(diff)
    assert str(late.get("content", type=pycrdt.Text)) == "kept as it is"
    for sio in (editor, fuzzer, root, observer):
        await sio.disconnect()


async def _root(client: Client, live: LiveSession) -> socketio.AsyncClient:
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        str(client.make_url("/")), auth={"token": live.editor.token}, transports=["websocket"]
    )
    return sio
