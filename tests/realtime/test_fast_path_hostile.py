"""Hostile frame sequences on the WebSocket fast path (`transport.FastPath`), sent as raw
WebSocket frames: nothing a client sends mis-frames it, reaches a namespace the socket did
not connect to, or leaves a traceback; the socket keeps working afterwards."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import aiohttp
import pycrdt
import pytest

from collab.realtime.transport import MAX_ATTACHMENTS, attachments
from collab.state import REALTIME
from tests.live_support import LiveSession
from tests.support import Client


def header(namespace: str, event: str = "sync-update") -> str:
    return f'451-{namespace},["{event}",{{"_placeholder":true,"num":0}}]'


def update_inserting(text: str) -> bytes:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.get("content", type=pycrdt.Text).insert(0, text)
    return doc.get_update()


class RawSocket:
    """An Engine.IO v4 WebSocket spoken by hand."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, eio_sid: str) -> None:
        self.ws = ws
        self.eio_sid = eio_sid
        self.texts: list[str] = []
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, client: Client) -> RawSocket:
        ws = await client.ws_connect("/socket.io/?EIO=4&transport=websocket")
        opened = await ws.receive_str(timeout=5)
        assert opened.startswith("0{"), opened
        return cls(ws, json.loads(opened[1:])["sid"])

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                if message.data == "2":
                    await self.ws.send_str("3")
                self.texts.append(message.data)

    async def connect(self, namespace: str, token: str) -> None:
        await self.ws.send_str(f"40{namespace}," + json.dumps({"token": token}))
        await until(lambda: any(t.startswith(f"40{namespace},") for t in self.texts))

    def errors(self, namespace: str) -> list[str]:
        return [t for t in self.texts if t.startswith(f'42{namespace},["sync-error"')]

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


async def until(predicate: Any, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def file_text(client: Client, live: LiveSession, path: str) -> tuple[int, str]:
    response = await client.get(
        f"/api/sessions/{live.session_id}/files/{path}", headers=live.owner.headers
    )
    return response.status, await response.text()


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.mark.unit
def test_the_attachment_count_is_read_as_python_socketio_reads_it() -> None:
    assert attachments('51-/ns,["e",{"_placeholder":true,"num":0}]') == 1
    assert attachments("60001-/ns,0[]") == 1
    assert attachments("59999999999-/ns,[]") > MAX_ATTACHMENTS
    assert attachments("5\u0669\u0669-/ns,[]") == 99  # Arabic-Indic digits: int() takes them
    assert attachments("5\u00b2-/ns,[]") > MAX_ATTACHMENTS  # a digit int() refuses
    for none in ("2/ns,[]", "5/ns-1,[]", "5-/ns,[]", "", "5"):
        assert attachments(none) == 0, none


async def test_hostile_frames_neither_mis_frame_nor_reach_other_namespaces(
    client: Client, live: LiveSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    namespace = f"/yjs|{live.room('main.py')}"
    other = f"/yjs|{live.room('other.py')}"
    raw = await RawSocket.open(client)
    try:
        await raw.connect(namespace, live.editor.token)
        # An event for a namespace this socket never connected (the same user could, but
        # did not): dropped, as python-socketio drops it.
        await raw.ws.send_str(header(other))
        await raw.ws.send_bytes(update_inserting("sneaked"))
        # A header whose attachment is text: the normal path takes both, refused as not binary.
        await raw.ws.send_str(header(namespace))
        await raw.ws.send_str('42["x"]')
        await until(lambda: raw.errors(namespace))
        # Two headers in a row, then one attachment.
        await raw.ws.send_str(header(namespace))
        await raw.ws.send_str(header(namespace))
        await raw.ws.send_bytes(update_inserting("two headers"))
        # An attachment nobody announced.
        await raw.ws.send_bytes(update_inserting("stray"))
        # The other event name, with a sync update as its attachment: refused as awareness.
        await raw.ws.send_str(header(namespace, "awareness-update"))
        await raw.ws.send_bytes(update_inserting("as awareness"))
        # Packets python-socketio cannot take: undecodable, of no type a client may send, a
        # binary packet for a namespace not connected.
        for garbage in (
            "4",
            "49",
            "4x",
            "44",
            f"42{namespace},[",
            f"42{namespace},5",
            f"42{namespace},[]",
            f"43{namespace},0",
            f"451-{namespace},5",
            f"42{namespace}," + "[" * 100_000 + "]" * 100_000,
            header(other),
        ):
            await raw.ws.send_str(garbage)
        # Binary packets python-socketio would fail to reassemble once the attachment is in:
        # a placeholder naming no attachment, data nested deeper than it can recurse.
        for bad in (
            f'451-{namespace},["sync-update",{{"_placeholder":true,"num":3}}]',
            f'451-{namespace},["sync-update",{{"_placeholder":true,"num":"0"}}]',
            f'451-{namespace},["sync-update",{{"_placeholder":true}},{{"_placeholder":1,"num":-1}}]',
            f"451-{namespace}," + "[" * 900 + '{"_placeholder":true,"num":0}' + "]" * 900,
        ):
            await raw.ws.send_str(bad)
            await raw.ws.send_bytes(b"\x00\x00")
        # Then a real one: applied, on the namespace it names.
        await raw.ws.send_str(header(namespace))
        await raw.ws.send_bytes(update_inserting("kept"))

        async def stored() -> bool:
            return (await file_text(client, live, "main.py"))[1] == "kept"

        deadline = time.monotonic() + 5
        while not await stored():
            assert time.monotonic() < deadline, await file_text(client, live, "main.py")
            await asyncio.sleep(0.05)
        status, _ = await file_text(client, live, "other.py")
        assert status == 404
    finally:
        await raw.close()
    assert not tracebacks(caplog)


async def test_a_packet_announcing_many_attachments_holds_none_of_them(
    client: Client, live: LiveSession, caplog: pytest.LogCaptureFixture
) -> None:
    """python-socketio keeps a binary packet's attachments until their announced count (up
    to ten digits) is reached: unbounded memory, outside every size cap and byte budget."""
    caplog.set_level(logging.ERROR)
    namespace = f"/yjs|{live.room('main.py')}"
    sio = client.app[REALTIME].sio
    raw = await RawSocket.open(client)
    try:
        await raw.connect(namespace, live.editor.token)
        await raw.ws.send_str(
            f'4599999-{namespace},["sync-update",{{"_placeholder":true,"num":0}}]'
        )
        for count in ("\u0669\u0669", "\u00b2"):  # digits python-socketio reads, or fails on
            await raw.ws.send_str(f'45{count}-{namespace},["sync-update",{{"_placeholder":true}}]')
        for _ in range(20):
            await raw.ws.send_bytes(b"\x00" * 100_000)
        await raw.ws.send_str(header(namespace))
        await raw.ws.send_bytes(update_inserting("after"))
        deadline = time.monotonic() + 5
        while (await file_text(client, live, "main.py"))[1] != "after":
            assert time.monotonic() < deadline, await file_text(client, live, "main.py")
            await asyncio.sleep(0.05)
        assert raw.eio_sid not in sio._binary_packet
    finally:
        await raw.close()
    assert not tracebacks(caplog)


async def test_a_close_between_header_and_attachment_leaves_nothing_behind(
    client: Client, live: LiveSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    namespace = f"/yjs|{live.room('main.py')}"
    raw = await RawSocket.open(client)
    await raw.connect(namespace, live.editor.token)
    await raw.ws.send_str(header(namespace))
    await raw.close()
    await asyncio.sleep(0.3)
    sio = client.app[REALTIME].sio
    assert raw.eio_sid not in sio._binary_packet
    assert raw.eio_sid not in sio.eio.sockets
    assert not tracebacks(caplog)
