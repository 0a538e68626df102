"""A document broadcast's bytes are exactly what python-socketio and python-engineio send.

`broadcast.encode_event` keeps each (namespace, event)'s Socket.IO header, encoded once; these
compare its frames, and the packets a socket on engine.io's queue gets, with the libraries'
own encoding of the same event, so a header reused for the wrong event or namespace, or a
library that encodes differently, fails here.
"""

from __future__ import annotations

import engineio
import socketio
from socketio import packet

from collab.realtime import broadcast
from collab.realtime.broadcast import encode_event, send_event
from collab.realtime.transport import frame

NAMESPACES = ["/", "/yjs|5f0c/src/a.py", "/yjs|5f0c/é 中/b,c.md", "/x?y"]
EVENTS = ["sync-update", "awareness-update", "sync-step-2"]
PAYLOADS = [b"", b"\x00", b"\x01\x01\x95\x9a" * 40, bytes(range(256)) * 300]


def _library(sio: socketio.AsyncServer, namespace: str, event: str, payload: object) -> bytes:
    encoded = sio.packet_class(packet.EVENT, namespace=namespace, data=[event, payload]).encode()
    parts = encoded if isinstance(encoded, list) else [encoded]
    return b"".join(
        frame(engineio.packet.Packet(engineio.packet.MESSAGE, data=part).encode()) for part in parts
    )


def test_frames_equal_the_libraries_encoding_for_every_namespace_event_and_payload() -> None:
    sio = socketio.AsyncServer(async_mode="aiohttp")
    broadcast._headers.clear()
    for _ in range(2):  # encoded, then from what is kept
        for namespace in NAMESPACES:
            for event in EVENTS:
                for payload in PAYLOADS:
                    packets, framed = encode_event(sio, namespace, event, payload)
                    assert packets is None
                    assert framed == _library(sio, namespace, event, payload)
    assert len(broadcast._headers) == len(NAMESPACES) * len(EVENTS)


def test_other_payloads_take_the_libraries_path() -> None:
    sio = socketio.AsyncServer(async_mode="aiohttp")
    for payload in (bytearray(b"\x01\x02"), {"code": "x", "message": "y"}):
        packets, framed = encode_event(sio, "/n", "sync-error", payload)  # type: ignore[arg-type]
        assert packets is not None
        assert framed == _library(sio, "/n", "sync-error", payload)


def test_kept_headers_are_bounded() -> None:
    sio = socketio.AsyncServer(async_mode="aiohttp")
    broadcast._headers.clear()
    for index in range(broadcast._HEADERS_KEPT + 10):
        encode_event(sio, f"/yjs|s/{index}", "sync-update", b"x")
    assert len(broadcast._headers) <= broadcast._HEADERS_KEPT


async def test_a_socket_on_engineios_queue_gets_the_same_two_packets() -> None:
    sio = socketio.AsyncServer(async_mode="aiohttp")
    sent: list[tuple[str, engineio.packet.Packet]] = []

    async def send_packet(eio_sid: str, pkt: engineio.packet.Packet) -> None:
        sent.append((eio_sid, pkt))

    sio.eio.send_packet = send_packet
    payload = b"\x01\x01\x05\x00\x84\x05\x02\x01x\x00"
    await send_event(sio, "/yjs|s/f.py", "sync-update", payload, ["a", "b"])
    encoded = sio.packet_class(
        packet.EVENT, namespace="/yjs|s/f.py", data=["sync-update", payload]
    ).encode()
    expected = [engineio.packet.Packet(engineio.packet.MESSAGE, data=p).encode() for p in encoded]
    assert [sid for sid, _ in sent] == ["a", "a", "b", "b"]
    assert [pkt.encode() for _, pkt in sent] == expected * 2
