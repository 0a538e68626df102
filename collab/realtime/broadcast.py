"""Sending one event to many sockets of this process, encoded once.

python-socketio encodes a packet per recipient; for document traffic, where every edit
goes to every other editor, we build the Socket.IO packet once, frame its Engine.IO packets
once, and write the same bytes to each upgraded WebSocket (`transport.direct`); a socket
still on long-polling, or with packets queued, gets them through engine.io's queue.
"""

from __future__ import annotations

import engineio
import socketio
from socketio import packet

from collab.realtime.transport import direct, frame


async def send_event(
    sio: socketio.AsyncServer, namespace: str, event: str, payload: bytes, eio_sids: list[str]
) -> None:
    if not eio_sids:
        return
    encoded = sio.packet_class(packet.EVENT, namespace=namespace, data=[event, payload]).encode()
    parts = encoded if isinstance(encoded, list) else [encoded]
    eio_packets = [engineio.packet.Packet(engineio.packet.MESSAGE, data=part) for part in parts]
    framed = b"".join(frame(eio_packet.encode()) for eio_packet in eio_packets)
    eio = sio.eio
    for eio_sid in eio_sids:
        ws = direct(eio, eio_sid)
        if ws is not None:
            ws.write_framed(framed)
            continue
        for eio_packet in eio_packets:
            await eio.send_packet(eio_sid, eio_packet)
