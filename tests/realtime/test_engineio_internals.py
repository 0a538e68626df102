"""The engine.io internals `collab/realtime/transport.py` and `broadcast.py` rely on.

Each check names what moved, so an upgrade of python-socketio or python-engineio that
breaks the patch fails here, clearly, instead of in a WebSocket under load.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import tomllib

import engineio
import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from engineio.async_drivers import aiohttp as driver
from engineio.async_socket import AsyncSocket
from packaging.requirements import Requirement

from collab.realtime import transport
from collab.realtime.server import add_socketio_routes
from collab.realtime.transport import CoalescingWebSocket, direct, frame, tune_websockets
from tests.support import REPO

pytestmark = pytest.mark.unit

MOVED = (
    "engine.io changed what collab/realtime/transport.py patches ({what}); re-check "
    "CoalescingWebSocket against engineio/async_drivers/aiohttp.py and "
    "AsyncSocket._upgrade_websocket, then move the pins in pyproject.toml"
)


def _pins() -> dict[str, Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(line) for line in project["dependencies"]]
    return {r.name: r for r in requirements if r.name in ("python-socketio", "python-engineio")}


def test_socketio_and_engineio_are_pinned_to_what_is_installed() -> None:
    pins = _pins()
    assert set(pins) == {"python-socketio", "python-engineio"}, "pin both in pyproject.toml"
    for name, requirement in pins.items():
        assert requirement.specifier, f"{name} has no version range in pyproject.toml"
        installed = importlib.metadata.version(name)
        assert requirement.specifier.contains(installed), (
            f"{name} {installed} is outside the tested range {requirement.specifier}"
        )


def test_the_websocket_class_is_looked_up_where_we_replace_it() -> None:
    source = inspect.getsource(AsyncSocket._upgrade_websocket)
    assert "self.server._async['websocket'](" in source, MOVED.format(
        what="the upgrade no longer builds server._async['websocket'](handler, server)"
    )
    sio = socketio.AsyncServer(async_mode="aiohttp")
    assert isinstance(sio.eio._async, dict), MOVED.format(what="AsyncServer._async")
    assert sio.eio._async.get("websocket") is driver.WebSocket, MOVED.format(
        what="the aiohttp driver's 'websocket' entry"
    )


def test_the_driver_websocket_keeps_what_the_subclass_uses() -> None:
    parameters = list(inspect.signature(driver.WebSocket.__init__).parameters)
    assert parameters == ["self", "handler", "server"], MOVED.format(
        what=f"WebSocket.__init__{parameters}"
    )
    for method in ("__call__", "send", "close", "wait"):
        assert inspect.iscoroutinefunction(getattr(driver.WebSocket, method)), MOVED.format(
            what=f"WebSocket.{method}"
        )
    assert "self._sock.receive()" in inspect.getsource(driver.WebSocket.wait), MOVED.format(
        what="WebSocket.wait no longer reads self._sock"
    )
    request = make_mocked_request("GET", "/socket.io/?EIO=4&transport=websocket")
    assert driver.translate_request(request).get("aiohttp.request") is request, MOVED.format(
        what="environ['aiohttp.request']"
    )
    sio = socketio.AsyncServer(async_mode="aiohttp", max_http_buffer_size=123)
    assert sio.eio.max_http_buffer_size == 123, MOVED.format(what="max_http_buffer_size")


def test_tuning_replaces_the_websocket_of_one_server_only() -> None:
    tuned, plain = (
        socketio.AsyncServer(async_mode="aiohttp"),
        socketio.AsyncServer(async_mode="aiohttp"),
    )
    tune_websockets(tuned)
    assert tuned.eio._async["websocket"] is CoalescingWebSocket
    assert plain.eio._async["websocket"] is driver.WebSocket
    assert driver._async["websocket"] is driver.WebSocket


def test_broadcast_uses_only_what_exists() -> None:
    sio = socketio.AsyncServer(async_mode="aiohttp")
    assert callable(sio.packet_class), "socketio.AsyncServer.packet_class"
    assert inspect.iscoroutinefunction(sio.eio.send_packet), "engineio AsyncServer.send_packet"
    assert callable(sio.manager.eio_sid_from_sid), "socketio manager.eio_sid_from_sid"
    assert engineio.packet.MESSAGE == 4, "engineio.packet.MESSAGE"


def test_direct_writes_rely_on_what_exists() -> None:
    """`transport.direct` finds a socket's WebSocket through the handler's bound socket, and
    bypasses the queue only because the writer sends what it polls without suspending."""
    upgrade = inspect.getsource(AsyncSocket._upgrade_websocket)
    assert "self._websocket_handler, self.server" in upgrade, MOVED.format(
        what="the WebSocket's handler is no longer the socket's bound _websocket_handler"
    )
    handler = inspect.getsource(AsyncSocket._websocket_handler)
    assert "packets = await self.poll()" in handler, MOVED.format(what="the writer's poll")
    assert "await ws.send(pkt.encode())" in handler, MOVED.format(what="the writer's send")
    sio = socketio.AsyncServer(async_mode="aiohttp")
    assert isinstance(sio.eio.sockets, dict), MOVED.format(what="AsyncServer.sockets")
    socket = AsyncSocket(sio.eio, "abc")
    for name in ("sid", "closed", "upgraded", "queue"):
        assert hasattr(socket, name), MOVED.format(what=f"AsyncSocket.{name}")
    assert socket.handle_get_request and socket._websocket_handler.__self__ is socket


async def test_direct_writes_only_to_an_open_upgraded_socket_with_nothing_queued() -> None:
    sio = socketio.AsyncServer(async_mode="aiohttp")
    socket = AsyncSocket(sio.eio, "abc")
    sio.eio.sockets["abc"] = socket
    ws = CoalescingWebSocket(socket._websocket_handler, sio.eio)
    assert direct(sio.eio, "abc") is None  # not open
    transport._open["abc"] = ws
    try:
        assert direct(sio.eio, "abc") is None  # still on long-polling
        socket.upgraded = True
        assert direct(sio.eio, "abc") is ws
        await socket.queue.put(engineio.packet.Packet(engineio.packet.PING))
        assert direct(sio.eio, "abc") is None  # a packet waits: the broadcast queues behind
        socket.queue.get_nowait()
        socket.closed = True
        assert direct(sio.eio, "abc") is None
        assert direct(sio.eio, "other") is None
    finally:
        transport._open.pop("abc", None)


def test_our_routes_are_the_ones_attach_would_add() -> None:
    attached, ours = web.Application(), web.Application()
    socketio.AsyncServer(async_mode="aiohttp").attach(attached)

    async def handler(request: web.Request) -> web.StreamResponse:
        raise NotImplementedError

    add_socketio_routes(ours, handler)

    def routes(app: web.Application) -> set[tuple[str, str]]:
        return {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource}

    assert routes(ours) == routes(attached)


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_frames_are_final_unmasked_and_sized_per_rfc_6455(size: int) -> None:
    framed = frame(b"x" * size)
    assert framed[0] == 0x82 and framed[1] & 0x80 == 0
    length = framed[1] & 0x7F
    header = 2 if length < 126 else 4 if length == 126 else 10
    assert len(framed) - header == size
