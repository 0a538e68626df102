"""Slow and hostile clients against a real `collab serve` process.

- A client that stops reading is disconnected once its unsent bytes pass the cap, and the
  server's memory does not grow with what it would have been sent.
- Half-open TCP connections and requests whose headers never finish are closed after
  COLLAB_IDLE_CONNECTION_TIMEOUT_SECONDS; Engine.IO connections that never authenticate
  (no CONNECT, or a refused one) after COLLAB_SOCKET_AUTH_TIMEOUT_SECONDS.
- A burst of handshakes from one address is refused past its budget: 429 `rate_limited`
  with Retry-After (X-Forwarded-For from an untrusted peer changes nothing).

Hundreds of connections here; bench/soak.py and the docs give the thousands.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pycrdt
import pytest
import socketio

from tests.cluster_support import setup_session
from tests.faults.drain_support import usage
from tests.support import ServerProcess

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


def _ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"


async def _until(predicate: Callable[[], bool], within: float, what: str) -> float:
    """Seconds until `predicate()` holds; fails after `within`."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > within:
            raise AssertionError(f"{what} did not happen within {within}s")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def test_a_client_that_stops_reading_is_dropped_and_memory_stays_capped(
    tmp_path: Path, external_env: dict[str, str]
) -> None:
    env = external_env | {"COLLAB_SOCKET_BYTES_PER_SECOND": str(1024 * MiB)}
    with ServerProcess(tmp_path / "server", env) as server:
        assert server.proc is not None
        async with aiohttp.ClientSession() as http:
            session_id, owner, editor = await setup_session(http, server.url)
            namespace = f"/yjs|{session_id}/main.py"

            # The slow reader: joins the document, then never reads again (aiohttp stops
            # reading the socket once its small buffer is full, so TCP pushes back).
            slow = await http.ws_connect(_ws_url(server.url), max_msg_size=0)
            assert (await slow.receive_str()).startswith("0")
            await slow.send_str(f"40{namespace},{json.dumps({'token': owner.token})}")
            while not (await slow.receive_str()).startswith(f"40{namespace}"):
                pass

            writer = socketio.AsyncClient(reconnection=False)
            writer.on("sync-step-1", lambda _sv: b"\x00\x00", namespace=namespace)
            await writer.connect(
                server.url,
                namespaces=[namespace],
                auth={"token": editor.token},
                transports=["websocket"],
            )
            try:
                await asyncio.sleep(0.5)
                baseline, _ = usage(server.proc.pid)
                peak, sent = baseline, 0
                doc: pycrdt.Doc[Any] = pycrdt.Doc()
                text = doc.get("content", type=pycrdt.Text)
                chunk = "x" * (512 * 1024)
                # 100 MiB relayed to the slow reader: far past the 16 MiB cap. Each chunk is
                # deleted again, so the document itself stays small.
                for _ in range(200):
                    state = doc.get_state()
                    text.insert(0, chunk)
                    await writer.emit("sync-update", doc.get_update(state), namespace=namespace)
                    state = doc.get_state()
                    del text[0 : len(chunk)]
                    await writer.emit("sync-update", doc.get_update(state), namespace=namespace)
                    sent += len(chunk)
                    await asyncio.sleep(0.02)
                    peak = max(peak, usage(server.proc.pid)[0])
                await asyncio.sleep(1)
                peak = max(peak, usage(server.proc.pid)[0])
            finally:
                await writer.disconnect()
        logs = server.logs()
    assert sent >= 96 * MiB
    assert "closing a WebSocket whose client stopped reading" in logs, logs[-3000:]
    growth = peak - baseline
    print(f"slow reader: {sent / MiB:.0f} MiB relayed, server RSS +{growth / MiB:.1f} MiB")
    assert growth < 64 * MiB, f"server grew {growth / MiB:.0f} MiB while {sent / MiB:.0f} MiB "


async def test_half_open_connections_and_unfinished_headers_are_closed(
    tmp_path: Path, external_env: dict[str, str]
) -> None:
    env = external_env | {"COLLAB_IDLE_CONNECTION_TIMEOUT_SECONDS": "2"}
    with ServerProcess(tmp_path / "server", env) as server:
        assert server.proc is not None
        pid = server.proc.pid
        _, fds_before = usage(pid)
        loop = asyncio.get_running_loop()
        sockets = []
        for i in range(300):
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.setblocking(False)
            if i % 2:  # slowloris: a request whose headers never end
                sock.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            sockets.append(sock)
        await _until(lambda: usage(pid)[1] >= fds_before + 250, 10, "accepting")
        # Meanwhile the server still answers.
        async with aiohttp.ClientSession() as http, http.get(f"{server.url}/healthz") as ok:
            assert ok.status == 200

        took = await _until(
            lambda: usage(pid)[1] <= fds_before + 10,
            10,
            "closing the idle connections",
        )
        assert took < 6
        for sock in sockets:  # each sees the server's close
            assert await asyncio.wait_for(loop.sock_recv(sock, 1024), 2) == b""
            sock.close()


async def test_handshakes_that_never_authenticate_are_timed_out(
    tmp_path: Path, external_env: dict[str, str]
) -> None:
    env = external_env | {
        "COLLAB_SOCKET_AUTH_TIMEOUT_SECONDS": "2",
        "COLLAB_SOCKET_CONNECTIONS_BURST": "1000",
    }
    with ServerProcess(tmp_path / "server", env) as server:
        assert server.proc is not None
        # No limit on this client's connections (aiohttp's default is 100).
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            _, owner, _ = await setup_session(http, server.url)
            authed = socketio.AsyncClient(reconnection=False)
            await authed.connect(server.url, auth={"token": owner.token}, transports=["websocket"])
            hostile = []
            for i in range(200):
                ws = await http.ws_connect(_ws_url(server.url))
                assert (await ws.receive_str()).startswith("0")  # Engine.IO open
                if i % 2:  # a CONNECT the server refuses; the connection itself stays
                    await ws.send_str('40{"token":"not-a-token"}')
                    assert (await ws.receive_str()).startswith("44")  # connect_error
                hostile.append(ws)
            started = time.monotonic()

            async def closed(ws: aiohttp.ClientWebSocketResponse) -> None:
                while True:
                    message = await ws.receive()
                    if message.type in (
                        aiohttp.WSMsgType.CLOSE,
                        aiohttp.WSMsgType.CLOSED,
                        aiohttp.WSMsgType.ERROR,
                    ):
                        return

            await asyncio.wait_for(asyncio.gather(*(closed(ws) for ws in hostile)), 15)
            took = time.monotonic() - started
            assert took < 8, took
            assert authed.connected  # an authenticated connection is left alone
            await authed.disconnect()
        assert "did not authenticate in time" in server.logs()


async def test_a_burst_of_handshakes_from_one_address_is_refused(
    tmp_path: Path, external_env: dict[str, str]
) -> None:
    env = external_env | {
        "COLLAB_SOCKET_CONNECTIONS_BURST": "5",
        "COLLAB_SOCKET_CONNECTIONS_PER_SECOND": "0.5",
    }
    with ServerProcess(tmp_path / "server", env) as server:
        handshake = f"{server.url}/socket.io/?EIO=4&transport=polling"
        async with aiohttp.ClientSession() as http:
            answers = []
            for i in range(12):
                # A forged X-Forwarded-For from an untrusted peer changes nothing.
                headers = {"X-Forwarded-For": f"203.0.113.{i}"}
                async with http.get(handshake, headers=headers) as response:
                    answers.append(
                        (
                            response.status,
                            await response.text(),
                            response.headers.get("Retry-After"),
                        )
                    )
            admitted = [a for a in answers if a[0] == 200]
            refused = [a for a in answers if a[0] == 429]
            assert len(admitted) == 5 and len(refused) == 7, [a[0] for a in answers]
            _, body, retry_after = refused[0]
            assert json.loads(body)["error"]["code"] == "rate_limited"
            assert retry_after is not None and int(retry_after) >= 1
            # Connections already made go on: a poll of an admitted one is not a handshake.
            sid = json.loads(admitted[0][1][1:])["sid"]
            connect = '40{"token":"not-a-token"}'
            async with http.post(f"{handshake}&sid={sid}", data=connect) as response:
                assert response.status == 200
