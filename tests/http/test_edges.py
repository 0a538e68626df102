"""Bytes a client may put in a header that are not UTF-8 (aiohttp hands
them on as lone surrogates) are bad input: never a 500. Sent on a raw socket, as an
attacker would, since HTTP clients refuse to send them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.accounts_support import STRONG_PASSWORD, register
from tests.support import Client

TOKEN = "metrics-token-for-tests"


async def raw(client: Client, head: bytes, body: bytes = b"") -> tuple[int, dict[str, Any]]:
    """Send one request as bytes; the status and JSON body of the answer."""
    assert client.server.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    try:
        length = f"Content-Length: {len(body)}\r\n".encode() if body else b""
        writer.write(head + b"Host: a\r\nConnection: close\r\n" + length + b"\r\n" + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    payload = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), json.loads(payload) if payload else {}


async def test_metrics_token_that_is_not_utf8_is_401(make_client: Any) -> None:
    client = await make_client(metrics_token=TOKEN)
    status, body = await raw(client, b"GET /metrics HTTP/1.1\r\nAuthorization: Bearer \xff\r\n")
    assert status == 401, body
    assert body["error"]["code"] == "unauthorized"


async def test_a_user_agent_that_is_not_utf8_does_not_break_login(make_client: Any) -> None:
    """The user agent is stored with each login (`GET /api/auth/sessions` lists it): a
    lone surrogate made PostgreSQL's encoder fail, so register and login were 500."""
    client = await make_client()
    await register(client, "agent")
    login = json.dumps({"login": "agent", "password": STRONG_PASSWORD}).encode()
    head = (
        b"POST /api/auth/login HTTP/1.1\r\nContent-Type: application/json\r\n"
        b"User-Agent: Browser \xff\xfe/1.0\r\n"
    )
    status, body = await raw(client, head, login)
    assert status == 200, body
    sessions = await client.get(
        "/api/auth/sessions", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    agents = [s["user_agent"] for s in await sessions.json()]
    assert any(a and a.startswith("Browser ") and a.endswith("/1.0") for a in agents), agents


async def test_header_and_query_bytes_that_are_not_utf8_are_400_not_500(
    make_client: Any,
) -> None:
    """Wherever such text reaches an `.encode()` (a JWT library, an HMAC comparison), the
    answer is the contract's 400, not a 500: a safety net at the edge, for every route."""
    client = await make_client()
    requests = [
        b"GET /api/auth/me HTTP/1.1\r\nAuthorization: Bearer \xff\r\n",
        b"GET /api/auth/oauth/github/callback?code=a&state=%ff HTTP/1.1\r\n"
        b"Cookie: collab_oauth_state=\xff\r\n",
    ]
    for head in requests:
        status, body = await raw(client, head)
        assert status in (400, 401, 404), (head, status, body)
        assert body["error"]["code"] != "internal_error"
    # A bearer token that cannot be ours is the usual 401, before any decoding.
    status, body = await raw(client, requests[0])
    assert (status, body["error"]["code"]) == (401, "invalid_token"), body
