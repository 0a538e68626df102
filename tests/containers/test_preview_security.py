"""Attacks on the preview proxy, against a real deployed container on a real Docker Engine.

The deployed app is `PROBE` below: it answers every request with what it received (the raw
request target and every header), answers `?status=N&h=Name:Value...` with exactly that
status and those headers, drops the connection on `?die`, and speaks WebSocket on `/ws...`
(its first message is what the handshake carried). Each test plays the attacker (a
malicious app, or a visitor's leaked credential) and checks what got through.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import asyncpg
import pytest

from collab.state import ACCOUNTS
from containers.preview import ROW_TTL
from containers.preview_access import VERDICT_TTL
from kernel.context import ClientInfo
from tests.accounts_support import link_token, outbox, register
from tests.deploy_support import deploy, session_with_files, wait_status
from tests.live_support import LiveSession, Member
from tests.node_agent import NodeAgent
from tests.support import Client
from tests.workspace_support import Person, member, workspace

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


@pytest.fixture
async def browser(client: Client) -> AsyncIterator[aiohttp.ClientSession]:
    """A visitor's HTTP client that sends exactly the cookies a test gives it."""
    async with aiohttp.ClientSession(
        str(client.make_url("")), cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        yield session


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


async def preview_cookie(browser: aiohttp.ClientSession, did: str, who: Member) -> str:
    first = await browser.get(f"/preview/{did}/?token={who.token}", allow_redirects=False)
    assert first.status == 302, await first.text()
    return first.cookies["collab_preview"].value


async def test_a_visitors_token_never_reaches_the_app(
    client: Client, agent: NodeAgent, browser: aiohttp.ClientSession
) -> None:
    live, did = await probe(client, agent, "tk", public=True)
    outsider = Member("outsider", await register(client, "tkoutsider"))

    # An outsider opens a public preview with their token in the URL (a shared link): the
    # browser is sent on without it, and no cookie is made for a non-participant.
    first = await browser.get(
        f"/preview/{did}/page?a=1&token={outsider.token}", allow_redirects=False
    )
    assert first.status == 302, await first.text()
    assert first.headers["Location"] == f"/preview/{did}/page?a=1"
    assert "collab_preview" not in first.cookies
    seen = await (await browser.get(first.headers["Location"])).json()
    assert seen["target"] == "/page?a=1"

    # Methods that are not redirected are proxied, still without the token, however spelt.
    for query in (f"token={outsider.token}&b=2", f"b=2&%74oken={outsider.token}"):
        posted = await browser.post(f"/preview/{did}/form?{query}")
        assert posted.status == 200
        assert (await posted.json())["target"] == "/form?b=2"

    # The page's own URL carried the token once: the Referer the browser sends for the
    # page's assets does not carry it on to the app.
    assets = await browser.get(
        f"/preview/{did}/app.js",
        headers={"Referer": f"{client.make_url(f'/preview/{did}/')}?token={outsider.token}&x=1"},
    )
    seen = await assets.json()
    assert header(seen, "Referer") == [f"{client.make_url(f'/preview/{did}/')}?x=1"]
    assert outsider.token not in json.dumps(seen)

    # Our bearer token is ours, not the app's; the app's own Authorization passes.
    ours = await (await browser.get(f"/preview/{did}/", headers=outsider.headers)).json()
    assert header(ours, "Authorization") == []
    for own in ("Basic dXNlcjpwYXNzd29yZA==", "Bearer the-apps-own-token"):
        theirs = await (
            await browser.get(f"/preview/{did}/", headers={"Authorization": own})
        ).json()
        assert header(theirs, "Authorization") == [own]
    await stop(client, live, did)


async def test_a_private_previews_websocket_gets_no_token(
    client: Client, agent: NodeAgent, browser: aiohttp.ClientSession
) -> None:
    live, did = await probe(client, agent, "wt")
    async with browser.ws_connect(f"/preview/{did}/ws?room=1&token={live.viewer.token}") as ws:
        seen = json.loads((await ws.receive(timeout=5)).data)
        assert seen["target"] == "/ws?room=1"
        await ws.send_str("hi")
        assert (await ws.receive(timeout=5)).data == "echo:hi"
    assert live.viewer.token not in json.dumps(seen)
    await stop(client, live, did)


async def test_the_servers_cookies_never_reach_the_app(
    client: Client, agent: NodeAgent, browser: aiohttp.ClientSession
) -> None:
    live, did = await probe(client, agent, "ck")
    cookie = await preview_cookie(browser, did, live.viewer)
    sent = (
        f"theme=dark; collab_preview={cookie}; collab_refresh=r3fr3sh; "
        "__Host-collab_session=s3ss; b=2"
    )
    page = await browser.get(f"/preview/{did}/", headers={"Cookie": sent})
    assert page.status == 200
    seen = await page.json()
    assert header(seen, "Cookie") == ["theme=dark; b=2"]
    assert cookie not in json.dumps(seen)
    await stop(client, live, did)


async def test_hop_by_hop_headers_stop_at_the_proxy_both_ways(
    client: Client, agent: NodeAgent, browser: aiohttp.ClientSession
) -> None:
    live, did = await probe(client, agent, "hop", public=True)
    seen = await (
        await browser.get(
            f"/preview/{did}/",
            headers={
                "Connection": "keep-alive, X-Private-Hop",
                "X-Private-Hop": "visitor secret",
                "Keep-Alive": "timeout=5",
                "Proxy-Connection": "keep-alive",
                "TE": "trailers",
                "X-End-To-End": "kept",
            },
        )
    ).json()
    names = {k.lower() for k, _ in seen["headers"]}
    assert not names & {"x-private-hop", "keep-alive", "proxy-connection", "te"}, names
    assert header(seen, "X-End-To-End") == ["kept"]

    answer = await browser.get(
        f"/preview/{did}/?"
        + respond(
            200,
            "Connection: X-App-Hop",
            "X-App-Hop: app secret",
            "Keep-Alive: timeout=99",
            "Proxy-Connection: keep-alive",
            "X-App-Kept: yes",
        )
    )
    assert answer.status == 200
    for name in ("X-App-Hop", "Keep-Alive", "Proxy-Connection"):
        assert name not in answer.headers, name
    assert answer.headers["X-App-Kept"] == "yes"
    await stop(client, live, did)


async def test_an_app_cannot_set_the_servers_cookies(
    client: Client, agent: NodeAgent, browser: aiohttp.ClientSession
) -> None:
    live, did = await probe(client, agent, "sc", public=True)
    answer = await browser.get(
        f"/preview/{did}/?"
        + respond(
            200,
            "Set-Cookie: collab_preview=forged; Path=/",
            "Set-Cookie: collab_refresh=fixated; Path=/; HttpOnly",
            "Set-Cookie: __Host-collab_session=x; Path=/; Secure",
            "Set-Cookie: Collab_Preview=case; Path=/",
            "Set-Cookie: collab_preview",
            "Set-Cookie: app_session=1; Path=/",
            # Headers that act on the whole origin, not on the app's own pages.
            "Service-Worker-Allowed: /",
            'Clear-Site-Data: "cookies"',
            "Strict-Transport-Security: max-age=63072000; includeSubDomains; preload",
            'Alt-Svc: h3="evil.example:443"; ma=2592000',
        )
    )
    assert answer.status == 200
    assert answer.headers.getall("Set-Cookie") == ["app_session=1; Path=/"]
    for origin_wide in (
        "Service-Worker-Allowed",
        "Clear-Site-Data",
        "Strict-Transport-Security",
        "Alt-Svc",
    ):
        assert origin_wide not in answer.headers, origin_wide
    await stop(client, live, did)


async def test_redirects_never_leave_the_preview(
    client: Client, agent: NodeAgent, browser: aiohttp.ClientSession
) -> None:
    live, did = await probe(client, agent, "rd", public=True)
    prefix = f"/preview/{did}"
    app_host = header(await (await browser.get(f"{prefix}/")).json(), "Host")[0]
    public_host = client.make_url("").authority

    async def location(where: str, path: str = "/", status: int = 302) -> aiohttp.ClientResponse:
        return await browser.get(
            f"{prefix}{path}?" + respond(status, f"Location: {where}"), allow_redirects=False
        )

    for external in (
        "https://evil.example/phish",
        "//evil.example/phish",
        "HTTPS://EVIL.EXAMPLE",
        "javascript:alert(1)",
        "/\\evil.example/x",  # browsers read a backslash as a slash
        " /\t/evil.example/x",  # and drop tabs
    ):
        refused = await location(external)
        assert refused.status == 502, external
        assert await refused.json() == {
            "error": {
                "code": "bad_gateway",
                "message": "The app redirected outside its preview.",
            }
        }
        assert "Location" not in refused.headers

    kept = {
        "/next?q=1": f"{prefix}/next?q=1",
        f"{prefix}/done": f"{prefix}/done",  # an app that honours X-Forwarded-Prefix
        f"http://{app_host}/inner": f"{prefix}/inner",  # its own address as it sees it
        f"http://{public_host}/outer": f"{prefix}/outer",  # X-Forwarded-Host honoured
        f"http://{public_host}{prefix}/both": f"{prefix}/both",
        "../../../api/auth/me": f"{prefix}/api/auth/me",  # relative, climbing out
    }
    for where, rewritten in kept.items():
        moved = await location(where, "/a/b/c")
        assert moved.status == 302, where
        assert moved.headers["Location"] == rewritten, where

    created = await location("https://evil.example/thing", status=201)
    assert created.status == 201 and "Location" not in created.headers
    await stop(client, live, did)


async def test_proxy_errors_answer_a_fixed_message(
    client: Client,
    agent: NodeAgent,
    browser: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    live, did = await probe(client, agent, "er", public=True)
    fixed = {"error": {"code": "bad_gateway", "message": "The app did not answer."}}
    with caplog.at_level(logging.WARNING, logger="containers.preview"):
        died = await browser.get(f"/preview/{did}/?die=1")
        assert died.status == 502
        assert await died.json() == fixed
        # A WebSocket the app will not accept (it answers this path with plain HTTP).
        refused = await browser.get(
            f"/preview/{did}/not-a-socket",
            headers={
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode(),
                "Sec-WebSocket-Version": "13",
            },
        )
        assert refused.status == 502
        assert await refused.json() == {
            "error": {"code": "bad_gateway", "message": "The app did not accept the WebSocket."}
        }
        # An answer that breaks off after its status line is cut, not passed off as whole.
        cut = await browser.get(f"/preview/{did}/?cut=1")
        assert cut.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await cut.read()
    # The reason is in the server's log, not in the answer.
    assert any(did in r.getMessage() for r in caplog.records if r.name == "containers.preview")
    await stop(client, live, did)


async def check_cookie_ends(
    browser: aiohttp.ClientSession, did: str, cookie: str, expected: int = 401
) -> None:
    page = await browser.get(f"/preview/{did}/", headers={"Cookie": f"collab_preview={cookie}"})
    assert page.status == expected, await page.text()
    if expected == 401:
        assert (await page.json())["error"]["code"] == "unauthorized"


async def test_logging_out_everywhere_ends_preview_cookies(
    client: Client, agent: NodeAgent, browser: aiohttp.ClientSession
) -> None:
    live, did = await probe(client, agent, "lo")
    cookie = await preview_cookie(browser, did, live.viewer)
    await check_cookie_ends(browser, did, cookie, 200)
    out = await client.post("/api/auth/logout-all", headers=live.viewer.headers)
    assert out.status == 204
    await check_cookie_ends(browser, did, cookie)  # at once, within the same second too

    # Logging in again gives a working cookie: the cut-off ends only what came before it.
    again = await client.post(
        "/api/auth/login", json={"login": "loviewer", "password": "Correct-Horse-7-Battery"}
    )
    fresh = Member("loviewer", await again.json())
    await check_cookie_ends(browser, did, await preview_cookie(browser, did, fresh), 200)
    await stop(client, live, did)


async def test_a_password_reset_or_deactivation_ends_preview_cookies(
    client: Client, agent: NodeAgent, browser: aiohttp.ClientSession, tmp_path: Path
) -> None:
    live, did = await probe(client, agent, "pr")
    viewer_cookie = await preview_cookie(browser, did, live.viewer)
    editor_cookie = await preview_cookie(browser, did, live.editor)
    await client.post("/api/auth/password/forgot", json={"email": "prviewer@example.org"})
    [mail] = [m for m in await outbox(client, tmp_path) if "Reset" in m["subject"]]
    token = link_token(mail["body"], "/reset-password")
    reset = await client.post(
        "/api/auth/password/reset", json={"token": token, "password": "New-Passw0rd-Here"}
    )
    assert reset.status == 204
    await check_cookie_ends(browser, did, viewer_cookie)

    await check_cookie_ends(browser, did, editor_cookie, 200)
    await client.app[ACCOUNTS].set_active(
        uuid.UUID(live.editor.user_id), False, ClientInfo("127.0.0.1", "test")
    )
    await check_cookie_ends(browser, did, editor_cookie)
    await stop(client, live, did)


async def test_removal_ends_preview_cookies_and_open_sockets(
    client: Client, agent: NodeAgent, browser: aiohttp.ClientSession
) -> None:
    live, did = await probe(client, agent, "rm")
    cookie = await preview_cookie(browser, did, live.viewer)
    await check_cookie_ends(browser, did, cookie, 200)
    async with browser.ws_connect(
        f"/preview/{did}/ws", headers={"Cookie": f"collab_preview={cookie}"}
    ) as ws:
        await ws.receive(timeout=5)
        participant = await live.participant_id(client, live.viewer)
        removed = await client.delete(
            f"/api/sessions/{live.session_id}/participants/{participant}",
            headers=live.owner.headers,
        )
        assert removed.status in (200, 204), await removed.text()
        await check_cookie_ends(browser, did, cookie)
        # The socket they already had open is closed too, within the re-check interval.
        closed = await ws.receive(timeout=8)
        assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), closed
    await stop(client, live, did)


async def test_the_owner_of_a_removed_cookie_still_sees_a_public_preview_anonymously(
    client: Client, agent: NodeAgent, browser: aiohttp.ClientSession
) -> None:
    live, did = await probe(client, agent, "pa", public=True)
    cookie = await preview_cookie(browser, did, live.viewer)
    await client.post("/api/auth/logout-all", headers=live.viewer.headers)
    page = await browser.get(f"/preview/{did}/", headers={"Cookie": f"collab_preview={cookie}"})
    assert page.status == 200  # public: anyone may look, as nobody in particular
    await stop(client, live, did)


async def test_a_bearer_credential_is_read_whatever_the_schemes_case(
    client: Client, agent: NodeAgent, browser: aiohttp.ClientSession
) -> None:
    live, did = await probe(client, agent, "bc")
    # RFC 9110: the scheme is case-insensitive, as the API reads it.
    for scheme in ("bearer", "BEARER", "Bearer"):
        page = await browser.get(
            f"/preview/{did}/", headers={"Authorization": f"{scheme}  {live.viewer.token}"}
        )
        assert page.status == 200, (scheme, await page.text())
        seen = await page.json()
        assert header(seen, "Authorization") == [], scheme  # and still ours, not the app's
    await stop(client, live, did)


async def test_what_the_proxy_read_is_kept_briefly_and_no_longer(
    client: Client, agent: NodeAgent, browser: aiohttp.ClientSession, database_url: str
) -> None:
    """A page of many assets costs no database round trip per request: the deployment's row
    is kept ROW_TTL seconds and a viewer's yes VERDICT_TTL seconds. A change made straight
    in the database (so no event announces it) shows how long each is kept: within its
    bound the proxy does not ask again, and after it, it does."""
    live, did = await probe(client, agent, "ca")
    cookie = {"Cookie": f"collab_preview={await preview_cookie(browser, did, live.viewer)}"}
    conn = await asyncpg.connect(database_url)
    try:
        # The viewer's yes is kept: they lose access in the database, and still see pages.
        assert (await browser.get(f"/preview/{did}/", headers=cookie)).status == 200
        await conn.execute(
            "DELETE FROM session_participants WHERE session_id = $1 AND user_id = $2",
            uuid.UUID(live.session_id),
            uuid.UUID(live.viewer.user_id),
        )
        changed = time.monotonic()
        assert (await browser.get(f"/preview/{did}/app.js", headers=cookie)).status == 200
        assert time.monotonic() - changed < VERDICT_TTL  # else the line above proved nothing
        # ... for VERDICT_TTL at most.
        while (await browser.get(f"/preview/{did}/", headers=cookie)).status == 200:
            assert time.monotonic() - changed < VERDICT_TTL + 0.5, "the yes outlived its bound"
            await asyncio.sleep(0.05)

        # The row is kept: the deployment turns public, and for a moment it is still private.
        await asyncio.sleep(ROW_TTL)
        assert (await browser.get(f"/preview/{did}/", headers=live.owner.headers)).status == 200
        await conn.execute(
            "UPDATE deployments SET public = true WHERE deployment_id = $1", uuid.UUID(did)
        )
        changed = time.monotonic()
        assert (await browser.get(f"/preview/{did}/")).status == 401
        assert time.monotonic() - changed < ROW_TTL
        while (await browser.get(f"/preview/{did}/")).status == 401:
            assert time.monotonic() - changed < ROW_TTL + 0.5, "the row outlived its bound"
            await asyncio.sleep(0.05)
    finally:
        await conn.close()

    # A kept row does not outlive its deployment: once it stops, a visitor gets 503 (the
    # deployment is stopped), not a 502 from a container that is gone.
    assert (await browser.get(f"/preview/{did}/")).status == 200
    stopped = await client.post(f"/api/deployments/{did}/stop", headers=live.owner.headers)
    assert stopped.status == 202, await stopped.text()
    gone = await browser.get(f"/preview/{did}/")
    assert gone.status == 503, await gone.text()
    assert await gone.json() == {
        "error": {"code": "unavailable", "message": "The deployment is stopped."}
    }


async def test_looking_at_a_preview_makes_nobody_a_participant(
    client: Client, agent: NodeAgent, browser: aiohttp.ClientSession
) -> None:
    """A workspace member may look at the previews of the workspace's sessions; looking is a
    read, it does not make them a participant of the session."""
    owner = Member("wpowner", await register(client, "wpowner"))
    looker = Member("wplooker", await register(client, "wplooker"))
    ws = await workspace(Person(client, owner.pair))
    await member(Person(client, owner.pair), ws, Person(client, looker.pair), "viewer")
    created = await client.post(
        "/api/sessions",
        json={"name": "On the workspace", "language": "python", "ws_id": ws},
        headers=owner.headers,
    )
    assert created.status == 201, await created.text()
    session_id = (await created.json())["session_id"]
    url = str(client.make_url("")).rstrip("/")
    await agent.call("connect", name="wp", url=url, room=f"{session_id}/main.py", token=owner.token)
    await agent.call("insert", name="wp", index=0, text=PROBE)
    await agent.call("close", name="wp")
    await asyncio.sleep(0.3)
    live = LiveSession(session_id, owner, owner, looker)
    started = await deploy(client, owner, live)
    did = started["deployment_id"]
    running = await wait_status(client, owner, did, "running", "failed")
    assert running["status"] == "running", running

    value = await preview_cookie(browser, did, looker)
    await check_cookie_ends(browser, did, value, 200)
    assert (await browser.get(f"/preview/{did}/", headers=looker.headers)).status == 200
    listed = await client.get(f"/api/sessions/{session_id}/participants", headers=owner.headers)
    assert [p["user"]["user_id"] for p in await listed.json()] == [owner.user_id]

    # Leaving the workspace ends their look at once, though their yes was just kept.
    removed = await client.delete(
        f"/api/workspaces/{ws}/members/{looker.user_id}", headers=owner.headers
    )
    assert removed.status in (200, 204), await removed.text()
    await check_cookie_ends(browser, did, value)
    await stop(client, live, did)
