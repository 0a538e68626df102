"""Sending one event to many sockets of this process, encoded once.

python-socketio encodes a packet per recipient; for document traffic, where every edit
goes to every other editor, we build the Socket.IO packet once, frame its Engine.IO packets
once, and write the same bytes to each upgraded WebSocket (`transport.direct`); a socket
still on long-polling, or with packets queued, gets them through engine.io's queue.

A document event is one binary attachment whose Socket.IO header depends only on the
namespace and the event name, so the header is encoded (by python-socketio itself) and
framed once per (namespace, event) and kept (`_header`); an edit then costs the framing of
its own bytes only.
"""

from __future__ import annotations

import engineio
import socketio
from socketio import packet

from collab.realtime.transport import direct, frame

# (namespace, event) → the Socket.IO header of a one-attachment event, and its WebSocket
# frame. Namespaces are documents: cleared when it holds this many (re-encoding is cheap).
_HEADERS_KEPT = 4096
_headers: dict[tuple[str, str], tuple[str, bytes]] = {}


def _header(sio: socketio.AsyncServer, namespace: str, event: str) -> tuple[str, bytes]:
    key = (namespace, event)
    known = _headers.get(key)
    if known is None:
        # The header names the attachment by a placeholder, whatever its bytes.
        encoded = sio.packet_class(packet.EVENT, namespace=namespace, data=[event, b""]).encode()
        header = encoded[0]
        text = engineio.packet.Packet(engineio.packet.MESSAGE, data=header).encode()
        if len(_headers) >= _HEADERS_KEPT:
            _headers.clear()
        known = _headers[key] = (header, frame(text))
    return known


def encode_event(
    sio: socketio.AsyncServer, namespace: str, event: str, payload: bytes
) -> tuple[list[engineio.packet.Packet] | None, bytes]:
    """The event's Engine.IO packets (None: its header and one attachment, built only if a
    socket needs them) and their WebSocket frames."""
    if type(payload) is bytes:
        framed_header = _header(sio, namespace, event)[1]
        return None, framed_header + frame(payload)
    encoded = sio.packet_class(packet.EVENT, namespace=namespace, data=[event, payload]).encode()
    parts = encoded if isinstance(encoded, list) else [encoded]
    eio_packets = [engineio.packet.Packet(engineio.packet.MESSAGE, data=part) for part in parts]
    return eio_packets, b"".join(frame(eio_packet.encode()) for eio_packet in eio_packets)


async def send_event(
    sio: socketio.AsyncServer, namespace: str, event: str, payload: bytes, eio_sids: list[str]
) -> None:
    if not eio_sids:
        return
    eio_packets, framed = encode_event(sio, namespace, event, payload)
    eio = sio.eio
    for eio_sid in eio_sids:
        ws = direct(eio, eio_sid)
        if ws is not None:
            ws.write_framed(framed)
            continue
        if eio_packets is None:  # through engine.io's queue: the same two packets
            header = _header(sio, namespace, event)[0]
            eio_packets = [
                engineio.packet.Packet(engineio.packet.MESSAGE, data=header),
                engineio.packet.Packet(engineio.packet.MESSAGE, data=payload),
            ]
        for eio_packet in eio_packets:
            await eio.send_packet(eio_sid, eio_packet)
