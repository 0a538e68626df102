"""A deployable app that tells what it received, for the preview proxy's tests.

`PROBE` answers every request with what it received (the raw request target and every
header), answers `?status=N&h=Name:Value...` with exactly that status and those headers,
drops the connection on `?die`, and speaks WebSocket on `/ws...` (its first message is what
the handshake carried).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from tests.deploy_support import deploy, session_with_files, wait_status
from tests.live_support import LiveSession
from tests.node_agent import NodeAgent
from tests.support import Client

PROBE = r"""
import base64, hashlib, json, os, struct
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

def received(handler):
    return {"target": handler.path, "headers": [[k, v] for k, v in handler.headers.items()]}

class Probe(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        query = parse_qsl(urlsplit(self.path).query, keep_blank_values=True)
        if "die" in dict(query):
            self.close_connection = True
            return
        if "cut" in dict(query):
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"partial")
            self.close_connection = True
            return
        if self.headers.get("Upgrade", "").lower() == "websocket" and self.path.startswith("/ws"):
            return self.websocket()
        status = dict(query).get("status")
        body = b"set" if status else json.dumps(received(self)).encode()
        self.send_response(int(status or 200))
        for name, value in query:
            if name == "h":
                header, _, text = value.partition(":")
                self.send_header(header, text)
        self.send_header("Content-Type", "text/plain" if status else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT = do_DELETE = do_GET

    def websocket(self):
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        self.wfile.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n"
                          % accept).encode())
        self.send_text(json.dumps(received(self)).encode())
        while True:
            first, second = self.rfile.read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack("!H", self.rfile.read(2))[0]
            mask = self.rfile.read(4)
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
            if first & 0x0F == 8:
                self.close_connection = True
                return
            self.send_text(b"echo:" + payload)

    def send_text(self, data):
        head = bytes([0x81, len(data)]) if len(data) < 126 else (
            bytes([0x81, 126]) + struct.pack("!H", len(data)))
        self.wfile.write(head + data)
        self.wfile.flush()

ThreadingHTTPServer(("", int(os.environ["PORT"])), Probe).serve_forever()
"""


async def probe(
    client: Client, agent: NodeAgent, prefix: str, **body: Any
) -> tuple[LiveSession, str]:
    live = await session_with_files(client, agent, "python", {"main.py": PROBE}, prefix)
    started = await deploy(client, live.owner, live, **body)
    running = await wait_status(client, live.owner, started["deployment_id"], "running", "failed")
    assert running["status"] == "running", running
    return live, started["deployment_id"]


async def stop(client: Client, live: LiveSession, did: str) -> None:
    await client.post(f"/api/deployments/{did}/stop", headers=live.owner.headers)


def header(seen: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in seen["headers"] if k.lower() == name.lower()]


def respond(status: int, *headers: str) -> str:
    return urlencode([("status", str(status)), *(("h", h) for h in headers)])
