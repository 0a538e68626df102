"""Document events read straight off the WebSocket (`transport.FastPath`): taken only for
the exact header the npm client sends, with every check of the normal path kept."""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any

import pycrdt
import pytest
import socketio
from engineio.async_socket import AsyncSocket

from collab.realtime.transport import FastPath
from collab.state import REALTIME
from tests.live_support import LiveSession
from tests.support import REPO, Client

HEADER = '451-/yjs|s/p.py,["sync-update",{"_placeholder":true,"num":0}]'


async def _noop(namespace: str, sid: str, data: bytes) -> None:
    return None


def fast_path() -> tuple[socketio.AsyncServer, FastPath]:
    sio = socketio.AsyncServer(async_mode="aiohttp")
    return sio, FastPath(sio, {"sync-update": _noop, "awareness-update": _noop})


@pytest.mark.unit
def test_only_the_exact_header_of_a_document_event_is_taken() -> None:
    sio, fast = fast_path()
    assert fast.parse("e1", HEADER) == ("/yjs|s/p.py", _noop)
    aware = '451-/yjs|s/p.py,["awareness-update",{"_placeholder":true,"num":0}]'
    assert fast.parse("e1", aware) == ("/yjs|s/p.py", _noop)
    refused = [
        '451-/yjs|s/p.py,7["sync-update",{"_placeholder":true,"num":0}]',  # an ack id
        '451-/yjs|s/p.py?x=1,["sync-update",{"_placeholder":true,"num":0}]',  # a query
        '451-/yjs|s/a,b.py,["sync-update",{"_placeholder":true,"num":0}]',  # a comma
        '451-["sync-update",{"_placeholder":true,"num":0}]',  # no namespace
        '451-/yjs|s/p.py,["sync-step-1",{"_placeholder":true,"num":0}]',  # another event
        '451-/yjs|s/p.py,["sync-update",{"_placeholder":true,"num":1}]',
        '452-/yjs|s/p.py,["sync-update",{"_placeholder":true,"num":0}]',
    ]
    for header in refused:
        assert fast.parse("e1", header) is None, header
    sio._binary_packet["e1"] = object()  # the normal path waits for an attachment
    assert fast.parse("e1", HEADER) is None
    assert fast.parse("e2", HEADER) is not None


@pytest.mark.unit
def test_the_fast_path_relies_on_what_exists() -> None:
    """What `FastPath` and `CoalescingWebSocket.wait` use of python-engineio/socketio."""
    sio = socketio.AsyncServer(async_mode="aiohttp")
    assert sio.eio.handlers.get("message") == sio._handle_eio_message, "socketio's message"
    assert isinstance(sio._binary_packet, dict), "AsyncServer._binary_packet"
    assert callable(sio.manager.sid_from_eio_sid) and callable(sio.manager.is_connected)
    handler = inspect.getsource(AsyncSocket._websocket_handler)
    for line in (
        "data = await ws.wait()",
        "pkt = packet.Packet(encoded_packet=p)",
        "await self.receive(pkt)",
    ):
        assert line in handler, f"engine.io's WebSocket loop changed: {line}"
    FastPath(sio, {"sync-update": _noop})
    assert sio.eio.handlers["message"] != sio._handle_eio_message


def test_the_npm_client_encodes_the_placeholder_as_the_fast_path_expects() -> None:
    binary = REPO / "tests/js/node_modules/socket.io-parser/build/esm/binary.js"
    assert binary.exists(), "run `npm ci` in tests/js (scripts/test does)"
    assert "{ _placeholder: true, num: buffers.length }" in binary.read_text()


def update_inserting(text: str) -> bytes:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.get("content", type=pycrdt.Text).insert(0, text)
    return doc.get_update()


class Peer:
    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.sio = socketio.AsyncClient(reconnection=False)
        self.updates: list[bytes] = []
        self.errors: list[dict[str, Any]] = []
        self.sio.on("sync-step-1", lambda _sv: b"\x00\x00", namespace=namespace)
        self.sio.on("sync-update", lambda data: self.updates.append(bytes(data)), namespace)
        self.sio.on("sync-error", self.errors.append, namespace=namespace)

    async def connect(self, client: Client, token: str) -> None:
        url = str(client.make_url("")).rstrip("/")
        await self.sio.connect(
            url, namespaces=[self.namespace], auth={"token": token}, transports=["websocket"]
        )


async def until(predicate: Any, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_document_events_take_the_fast_path_with_every_check_kept(
    client: Client, live: LiveSession
) -> None:
    fast: FastPath = client.app[REALTIME].sio.eio._collab_fast_path
    namespace = f"/yjs|{live.room()}"
    editor, viewer, reader = Peer(namespace), Peer(namespace), Peer(namespace)
    await reader.connect(client, live.owner.token)
    await editor.connect(client, live.editor.token)
    await viewer.connect(client, live.viewer.token)
    try:
        before = fast.taken
        first = update_inserting("hello")
        await editor.sio.emit("sync-update", first, namespace=namespace)
        await until(lambda: first in reader.updates)
        assert fast.taken == before + 1  # it went the fast way

        # A viewer's edit is refused there, as on the normal path; nothing is relayed.
        await viewer.sio.emit("sync-update", update_inserting("x"), namespace=namespace)
        await until(lambda: viewer.errors)
        assert viewer.errors[-1]["code"] == "read_only"
        # Undecodable bytes are refused too.
        await editor.sio.emit("sync-update", b"\xff\xff\xff", namespace=namespace)
        await until(lambda: editor.errors)
        assert editor.errors[-1]["code"] == "invalid_update"

        # With an ack id the normal path takes it: still applied, and acknowledged.
        taken = fast.taken
        second = update_inserting("world")
        acked = await editor.sio.call("sync-update", second, namespace=namespace, timeout=5)
        assert acked is None
        await until(lambda: second in reader.updates)
        assert fast.taken == taken

        response = await client.get(
            f"/api/sessions/{live.session_id}/files/main.py", headers=live.owner.headers
        )
        text = await response.text()
        assert response.status == 200 and sorted(text) == sorted("helloworld"), text
        assert len(reader.updates) == 2  # neither refused update reached anyone
    finally:
        for peer in (reader, editor, viewer):
            await peer.sio.disconnect()
