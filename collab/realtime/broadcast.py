"""Sending one event to many sockets of this process, encoded once.

python-socketio encodes a packet per recipient; for document traffic, where every edit
goes to every other editor, we build the Socket.IO packet once and hand the same
Engine.IO packets (which cache their encoding) to each socket.
"""

from __future__ import annotations

import engineio
import socketio
from socketio import packet


async def send_event(
    sio: socketio.AsyncServer, namespace: str, event: str, payload: bytes, eio_sids: list[str]
) -> None:
    if not eio_sids:
        return
    encoded = sio.packet_class(packet.EVENT, namespace=namespace, data=[event, payload]).encode()
    parts = encoded if isinstance(encoded, list) else [encoded]
    eio_packets = [engineio.packet.Packet(engineio.packet.MESSAGE, data=part) for part in parts]
    for eio_sid in eio_sids:
        for eio_packet in eio_packets:
            await sio.eio.send_packet(eio_sid, eio_packet)
