"""Engine.IO's aiohttp WebSocket, tuned for fan-out: no compression, coalesced writes, and
document events read straight off it (`FastPath`).

Profiling the edit-latency benchmark showed the server's time going to WebSocket writes:
- aiohttp negotiates permessage-deflate by default and engine.io's driver has no switch for
  it; deflating keystroke-sized frames cost about half the CPU at 50 clients (the reference
  Socket.IO server does not compress WebSocket frames either);
- every frame was its own `send()` system call, and every delivered update is two frames
  (the Socket.IO event header and its binary attachment).
So outgoing frames are framed here (RFC 6455, server side: no mask), queued per socket and
written with one call per event-loop tick; a broadcast frames its message once for all
recipients. A client that stops reading is disconnected once MAX_BUFFERED bytes wait for
it, instead of growing the server's memory.

Document broadcasts skip engine.io's per-socket queue and writer task when they can
(`direct`): handing a packet to the queue woke one task per recipient per message, which
profiled as much per delivery as the write itself. That is safe only while the socket's
queue is empty: the writer task sends what it takes from the queue synchronously (our
`send` never suspends), so anything queued earlier (a CONNECT, a ping, an acknowledgement)
is either written already or still in the queue, and then the broadcast takes the queue too.

Why this reaches into engine.io's private internals, and what would remove it:
- python-engineio's async server has no public way to choose its WebSocket class, or to
  pass options to aiohttp's `WebSocketResponse` (its client has `websocket_extra_options`;
  its server nothing alike). So `tune_websockets` replaces the `"websocket"` entry of the
  server's private driver table `AsyncServer._async`, on this server only (a copy: the
  driver module's own table is left alone), with a subclass of the private
  `engineio.async_drivers.aiohttp.WebSocket`.
- It relies on: `AsyncSocket._upgrade_websocket` calling `server._async["websocket"](handler,
  server)` and awaiting the result with the environ; the driver's `WebSocket` keeping
  `handler`, `server` and `_sock`, and reading with `_sock.receive()`; `translate_request`
  putting the aiohttp request in `environ["aiohttp.request"]`; `max_http_buffer_size`.
  The fast path (`FastPath`) relies on the WebSocket loop of `AsyncSocket._websocket_handler`
  feeding what `wait` returns to `Packet(encoded_packet=...)` and `receive` in turn, on
  python-socketio's `message` handler `_handle_eio_message` (replaced by ours, which calls
  it for everything else) and its `_binary_packet` table, and on the manager's
  `sid_from_eio_sid`/`is_connected` (`tests/realtime/test_fast_path.py` checks these).
  `tests/realtime/test_engineio_internals.py` fails, naming what moved, when any of that
  changes, and pyproject.toml pins python-socketio and python-engineio to the minor
  versions that test passes with.
- What would remove it upstream (python-engineio): a server-side `websocket_extra_options`
  forwarded to `WebSocketResponse` (`compress=False`) removes the deflate half; a public
  `websocket_class` argument of `engineio.AsyncServer` removes the rest. Neither exists in
  python-engineio 4.15.1; propose both, then delete the subclass and the table write.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import engineio
import socketio
from aiohttp.web import WebSocketResponse
from engineio.async_drivers import aiohttp as engineio_aiohttp

log = logging.getLogger(__name__)

MAX_BUFFERED = 16 * 1024 * 1024
_TEXT, _BINARY = 0x1, 0x2

# Engine.IO sid → its open, upgraded WebSocket (see `direct`).
_open: dict[str, CoalescingWebSocket] = {}

# The message last framed: a broadcast hands the same object to every recipient in a row.
_last: tuple[object, bytes] | None = None


def frame(message: str | bytes) -> bytes:
    global _last
    if _last is not None and _last[0] is message:
        return _last[1]
    if isinstance(message, str):
        payload, opcode = message.encode(), _TEXT
    else:
        payload, opcode = bytes(message), _BINARY
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    framed = header + payload
    _last = (message, framed)
    return framed


# Binary attachments a packet may announce (our events carry one): python-socketio holds
# them all, each up to the WebSocket's message limit, until the count is reached.
MAX_ATTACHMENTS = 4
MAX_DEPTH = 32  # of a binary packet's data (ours: 2)
_CLIENT_PACKETS = {
    socketio.packet.CONNECT,
    socketio.packet.DISCONNECT,
    socketio.packet.EVENT,
    socketio.packet.ACK,
    socketio.packet.BINARY_EVENT,
    socketio.packet.BINARY_ACK,
}
_EVENTS = {socketio.packet.EVENT, socketio.packet.BINARY_EVENT}
_ACKS = {socketio.packet.ACK, socketio.packet.BINARY_ACK}

# (namespace, Socket.IO sid, attachment): a document event's handler (see `FastPath`).
FastHandler = Callable[[str, str, bytes], Awaitable[None]]


class FastPath:
    """Binary document events read straight off an upgraded WebSocket.

    A `sync-update` or `awareness-update` from the npm client is two frames: the Socket.IO
    header `451-{namespace},["{event}",{"_placeholder":true,"num":0}]` and the binary
    attachment. Through python-engineio and python-socketio each frame cost a task and a
    `wait_for`, the header a JSON decode, and the pair a packet reassembly and a handler
    lookup (most of the server's CPU per edit at 10 editors). Here `CoalescingWebSocket.wait`
    recognises exactly that header, reads the attachment in the same call, starts the
    document handler's task itself (`dispatch`, in arrival order, one task per event as
    engine.io's `async_handlers` would) and reads on; only other packets go back to
    engine.io's reader loop, whose task, `wait_for` and packet decoding per message are
    saved. That loop still sees every other frame, pongs among them (every 25 s), so its
    `wait_for(ping_interval + ping_timeout)` never fires on a socket that is alive.

    Anything else, or anything unusual (an ack id, a query string or comma in the
    namespace, a header not followed by a binary frame, a binary packet of the normal path
    still waiting for attachments, a socket not connected to the namespace), takes the
    normal path unchanged. What python-socketio checks is kept: the socket must be
    connected to the namespace; the handlers keep every check of their own (auth and role
    are per socket, rate limits, size caps, admission).

    The normal path, which sees every message first here, also drops what only a broken or
    hostile client sends, before python-socketio holds or fails on it (`_text`): a binary
    packet announcing more than MAX_ATTACHMENTS attachments (python-socketio keeps them all,
    however many), or one it could not reassemble; an attachment nobody announced; a packet
    it cannot decode. Each would otherwise log a traceback, as often as a client sends one.
    """

    HEAD = "451-"

    def __init__(self, sio: socketio.AsyncServer, handlers: dict[str, FastHandler]) -> None:
        self._sio = sio
        self._suffixes = [
            (f',["{event}",{{"_placeholder":true,"num":0}}]', handler)
            for event, handler in handlers.items()
        ]
        self.taken = 0  # events handled here (tests check that the fast path is used)
        self._tasks: set[asyncio.Task[None]] = set()
        self._normal = sio._handle_eio_message
        sio.eio.on("message", self._message)

    def parse(self, eio_sid: str, header: str) -> tuple[str, FastHandler] | None:
        """The namespace and handler of a header the fast path takes; None otherwise."""
        if not header.startswith(self.HEAD):
            return None
        for suffix, handler in self._suffixes:
            if header.endswith(suffix):
                namespace = header[len(self.HEAD) : -len(suffix)]
                if (
                    namespace.startswith("/")
                    and "," not in namespace
                    and "?" not in namespace
                    and eio_sid not in self._sio._binary_packet
                ):
                    return namespace, handler
                return None
        return None

    def dispatch(
        self,
        eio_sid: str,
        taken: tuple[str, FastHandler],
        data: bytes,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        """Start the handler of a document event read by `CoalescingWebSocket.wait` (on its
        loop: `ensure_future` would look the loop up, a getpid() system call, per edit)."""
        namespace, handler = taken
        manager = self._sio.manager
        sid = manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is None or not manager.is_connected(sid, namespace):
            return  # as python-socketio: an event for a namespace not connected is dropped
        self.taken += 1
        task = loop.create_task(self._run(handler, namespace, sid, data))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _run(handler: FastHandler, namespace: str, sid: str, data: bytes) -> None:
        try:
            await handler(namespace, sid, data)
        except asyncio.CancelledError:
            pass
        except Exception:  # as engine.io logs a handler's error, and the socket goes on
            log.exception("document event handler error")

    async def _message(self, eio_sid: str, data: str | bytes) -> None:
        if not isinstance(data, bytes):
            await self._text(eio_sid, data)
            return
        if eio_sid not in self._sio._binary_packet:
            # An attachment no packet announced: python-socketio would raise, logging a
            # traceback for every such frame a client cares to send.
            log.info("dropped a binary frame no packet announced (%s)", eio_sid)
            return
        await self._normal(eio_sid, data)

    async def _text(self, eio_sid: str, data: str) -> None:
        """The normal path, less what only a broken or hostile client sends."""
        if eio_sid in self._sio._binary_packet:
            await self._normal(eio_sid, data)  # an attachment sent as text: the handler refuses
            return
        count = attachments(data)
        if count > MAX_ATTACHMENTS or (count and self._malformed(eio_sid, data)):
            # python-socketio would hold every attachment until the count is reached, with no
            # limit on the count (up to ten digits): memory without bound, outside any budget;
            # or fail once they are all in.
            log.info("dropped a binary packet's header (%s)", eio_sid)
            return
        try:
            await self._normal(eio_sid, data)
        except Exception:
            if not self._malformed(eio_sid, data):
                raise  # a handler's own error: engine.io logs it
            # A protocol error, not ours: no traceback per packet a client cares to send.
            log.info("dropped a malformed Socket.IO packet (%s)", eio_sid)

    def _malformed(self, eio_sid: str, data: str) -> bool:
        """Whether python-socketio fails on this packet itself, before any handler of ours:
        undecodable, an unknown or client-forbidden type, an event whose data is not an
        array naming it, an acknowledgement whose data is not an array, a binary packet for
        a namespace not connected."""
        try:
            pkt = socketio.packet.Packet(encoded_packet=data)
        except (ValueError, RecursionError):
            return True
        kind, args = pkt.packet_type, pkt.data
        if kind not in _CLIENT_PACKETS:
            return True
        if kind in _EVENTS and not (isinstance(args, list) and args):
            return True
        if kind in _ACKS and not isinstance(args, list):
            return True
        if kind not in (socketio.packet.BINARY_EVENT, socketio.packet.BINARY_ACK):
            return False
        if not self._sio.manager.sid_from_eio_sid(eio_sid, pkt.namespace or "/"):
            return True
        return not _placeholders_fit(args, pkt.attachment_count)


def _placeholders_fit(data: Any, count: int) -> bool:
    """Whether python-socketio can put the attachments back into a binary packet's data:
    every placeholder names one of them (else it fails once they are all in: an IndexError
    or TypeError), and the data nests no deeper than MAX_DEPTH (it recurses)."""
    todo: list[tuple[Any, int]] = [(data, 0)]
    while todo:
        item, depth = todo.pop()
        if depth > MAX_DEPTH:
            return False
        if isinstance(item, list):
            todo += [(value, depth + 1) for value in item]
        elif isinstance(item, dict):
            if item.get("_placeholder") and "num" in item:
                num = item["num"]
                if type(num) is not int or not 0 <= num < count:
                    return False
            else:
                todo += [(value, depth + 1) for value in item.values()]
    return True


def attachments(data: str) -> int:
    """How many binary attachments a Socket.IO packet (as engine.io hands it) announces,
    read as python-socketio reads it (`str.isdigit` takes any Unicode digit)."""
    if data[:1] not in ("5", "6"):
        return 0
    dash = data.find("-", 1, 13)
    count = data[1:dash]
    if dash <= 1 or not count.isdigit():
        return 0
    try:
        return int(count)  # "٩٩" is 99
    except ValueError:  # "²" is a digit int() refuses: python-socketio would fail on it
        return MAX_ATTACHMENTS + 1


def fast_events(sio: socketio.AsyncServer, handlers: dict[str, FastHandler]) -> None:
    """Take these binary events through the fast path (`FastPath`) on this server."""
    sio.eio._collab_fast_path = FastPath(sio, handlers)


class CoalescingWebSocket(engineio_aiohttp.WebSocket):  # type: ignore[misc]
    async def __call__(self, environ: dict[str, Any]) -> WebSocketResponse:
        request = environ["aiohttp.request"]
        self._transport = request.transport
        self._pending: list[bytes] = []
        self._flush_scheduled = False
        self._pushback: str | bytes | None = None
        # Cached: `asyncio.get_running_loop()` costs a getpid() system call per write.
        self._loop = asyncio.get_running_loop()
        self._fast: FastPath | None = getattr(self.server, "_collab_fast_path", None)
        self._sock = WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size, compress=False
        )
        await self._sock.prepare(request)
        self.environ = environ
        # `handler` is the engine.io socket's bound `_websocket_handler`.
        socket = getattr(self.handler, "__self__", None)
        sid = getattr(socket, "sid", None)
        self._sid = sid if isinstance(sid, str) else None
        if isinstance(sid, str):
            _open[sid] = self
        try:
            await self.handler(self)
        finally:
            if isinstance(sid, str) and _open.get(sid) is self:
                del _open[sid]
        return self._sock

    async def _receive(self) -> str | bytes:
        message = await self._sock.receive()
        data = message.data
        if not isinstance(data, bytes | str):
            raise OSError()  # closed: as the driver's own `wait`
        return data

    async def wait(self) -> str | bytes:
        """The next Engine.IO packet that is not a document event: those (a header and its
        attachment) are read together and handed to `FastPath.dispatch` on the way."""
        if self._pushback is not None:
            data, self._pushback = self._pushback, None
            return data
        fast, sid = self._fast, self._sid
        while True:
            data = await self._receive()
            if fast is None or sid is None or not isinstance(data, str):
                return data
            taken = fast.parse(sid, data)
            if taken is None:
                return data
            attachment = await self._receive()
            if not isinstance(attachment, bytes):
                self._pushback = attachment  # not the event we expected: the normal path
                return data
            fast.dispatch(sid, taken, attachment, self._loop)

    async def send(self, message: str | bytes) -> None:
        self.write_framed(frame(message))

    def write_framed(self, data: bytes) -> None:
        """Queue frames already framed, for this tick's write."""
        self._pending.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    async def close(self) -> None:
        self._flush()  # what was queued (e.g. a DISCONNECT packet) goes before the close frame
        await self._sock.close()

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(data)
        if transport.get_write_buffer_size() > MAX_BUFFERED:
            log.warning("closing a WebSocket whose client stopped reading")
            transport.close()


def direct(eio: engineio.AsyncServer, eio_sid: str) -> CoalescingWebSocket | None:
    """The socket's WebSocket if a message may be written to it now, bypassing engine.io's
    queue (upgraded, open, nothing queued ahead: see the module docstring); else None."""
    ws = _open.get(eio_sid)
    if ws is None:
        return None
    socket = eio.sockets.get(eio_sid)
    if socket is None or socket.closed or not socket.upgraded or not socket.queue.empty():
        return None
    return ws


def tune_websockets(sio: socketio.AsyncServer) -> None:
    """Make this server's WebSocket transport `CoalescingWebSocket` (see the docstring)."""
    sio.eio._async = {**sio.eio._async, "websocket": CoalescingWebSocket}
