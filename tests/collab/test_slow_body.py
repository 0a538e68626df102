"""A request whose body never finishes (slowloris on the body: complete
headers, then a declared length or a chunk that never arrives) held its connection and its
handler for ever; the idle timeout only covered headers. Against a real `collab serve`."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.support import ServerProcess

pytestmark = pytest.mark.integration

HEAD = b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
STALLED = [
    HEAD + b'Content-Length: 100\r\n\r\n{"lo',
    HEAD + b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"lo',
    HEAD + b"Content-Length: 99999999\r\n\r\n{",
]


async def _answer(sock: socket.socket, within: float) -> bytes:
    loop = asyncio.get_running_loop()
    received = b""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        chunk = await asyncio.wait_for(loop.sock_recv(sock, 4096), deadline - time.monotonic())
        if not chunk:
            return received
        received += chunk
    raise AssertionError(f"the connection is still open after {within}s: {received!r}")


async def test_a_body_that_never_finishes_is_refused_and_closed(
    tmp_path: Path, external_env: dict[str, str]
) -> None:
    env = external_env | {"COLLAB_IDLE_CONNECTION_TIMEOUT_SECONDS": "2"}
    with ServerProcess(tmp_path / "server", env) as server:
        sockets = []
        for request in STALLED:
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.setblocking(False)
            sock.send(request)
            sockets.append(sock)
        started = time.monotonic()
        for sock in sockets:
            answer = await _answer(sock, 10)
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408"), answer
            assert json.loads(body)["error"]["code"] == "request_timeout"
            sock.close()
        assert time.monotonic() - started < 8
        # A slow but steady body is not cut off, and the server still answers.
        async with aiohttp.ClientSession() as http:

            async def trickle() -> AsyncIterator[bytes]:
                for part in (b'{"login": ', b'"nobody", ', b'"password": "x"}'):
                    await asyncio.sleep(1)
                    yield part

            async with http.post(
                f"{server.url}/api/auth/login",
                data=trickle(),
                headers={"Content-Type": "application/json"},
            ) as response:
                assert response.status in (401, 422), await response.text()
