"""Ending Engine.IO connections so that their clients reconnect, and draining them all.

socket.io-client reconnects on its own after a *transport* close, but not after a Socket.IO
DISCONNECT ("io server disconnect": the application must call `connect()` again). And an
Engine.IO CLOSE packet ends only a long-polling client: over WebSocket the npm client
ignores it and would wait for its ping timeout (45 s). So a connection is ended in two
steps: Engine.IO's close (our disconnect handlers run, a pending long-poll answers CLOSE),
then, for a WebSocket, a close frame 1001 "going away" and the TCP connection closed.

The WebSocket of each connection is known from its request: an upgrade names its `sid` in
the query; a WebSocket-only client's handshake request is the environ python-socketio
keeps for the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import struct
from collections.abc import Iterator
from typing import Any

import socketio
from aiohttp import web

log = logging.getLogger(__name__)

GOING_AWAY = 1001
POLL_SECONDS = 0.05
_CLOSE_FRAME = struct.pack("!BBH", 0x88, 2, GOING_AWAY)  # FIN + close, unmasked (server side)


def _is_websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


class Connections:
    def __init__(self, sio: socketio.AsyncServer) -> None:
        self.sio = sio
        self._websockets: dict[int, web.Request] = {}  # by id(): requests are unhashable
        self._upgrades: dict[str, web.Request] = {}
        self.draining = False

    @contextlib.contextmanager
    def track(self, request: web.Request) -> Iterator[None]:
        """Around one Socket.IO request: a WebSocket's request lives as long as it does."""
        if not _is_websocket(request):
            yield
            return
        sid = request.query.get("sid")
        self._websockets[id(request)] = request
        if sid:
            self._upgrades[sid] = request
        try:
            yield
        finally:
            self._websockets.pop(id(request), None)
            if sid and self._upgrades.get(sid) is request:
                del self._upgrades[sid]

    def _websocket_of(self, eio_sid: str) -> web.Request | None:
        request = self._upgrades.get(eio_sid)
        if request is not None:
            return request
        environ: dict[str, Any] = self.sio.environ.get(eio_sid) or {}
        request = environ.get("aiohttp.request")
        return request if request is not None and id(request) in self._websockets else None

    async def end(self, eio_sid: str) -> None:
        """End one connection so that its client reconnects (see the module docstring)."""
        request = self._websocket_of(eio_sid)
        if request is not None:
            # As if the network dropped: the read loop handles what it has already read,
            # then Engine.IO closes the socket and our disconnect handlers run.
            self._close_websocket(request)
            return
        socket = self.sio.eio.sockets.get(eio_sid)
        if socket is not None:
            await socket.close(wait=False)  # a long-poll answers CLOSE

    @staticmethod
    def _close_websocket(request: web.Request) -> None:
        transport = request.transport
        if transport is not None and not transport.is_closing():
            transport.write(_CLOSE_FRAME)
            transport.close()  # stops reading; writes what is buffered, then closes

    def _open(self) -> bool:
        return bool(self._websockets) or any(
            not socket.closed for socket in self.sio.eio.sockets.values()
        )

    async def drain(self, within: float) -> int:
        """Refuse new handshakes, end every connection of this process, and wait (at most
        `within` seconds) for each to finish handling what it had read; how many."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        self.draining = True
        sids = list(self.sio.eio.sockets)
        ends = [asyncio.ensure_future(self.end(sid)) for sid in sids]
        if ends:
            done, pending = await asyncio.wait(ends, timeout=within)
            for task in pending:
                task.cancel()
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.warning("ending a connection failed: %r", task.exception())
        # A WebSocket not yet known as a connection (mid-handshake) goes too.
        for request in list(self._websockets.values()):
            self._close_websocket(request)
        # Polled: a connection ends inside Engine.IO, which tells nobody.
        for _ in range(math.ceil(within / POLL_SECONDS)):
            if not self._open() or loop.time() >= deadline:
                break
            await asyncio.sleep(POLL_SECONDS)
        if self._open():
            log.warning("drain: connections still open after %.1f s", within)
        return len(sids)
