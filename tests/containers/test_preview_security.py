"""Attacks on the preview proxy, against a real deployed container on a real Docker Engine.

The deployed app is `probe.PROBE`, which tells what it received. Each test plays the
attacker (a malicious app, or a visitor's leaked credential) and checks what got through.
Previews are reached on their own origin, `http://{deployment_id}.localhost:{port}`.
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

import aiohttp
import asyncpg
import pytest

from collab.state import ACCOUNTS
from containers.preview import ROW_TTL
from containers.preview_access import VERDICT_TTL
from kernel.context import ClientInfo
from tests.accounts_support import link_token, outbox, register
from tests.containers.probe import PROBE, header, probe, respond, stop
from tests.deploy_support import browser as preview_browser
from tests.deploy_support import deploy, preview_origin, wait_status
from tests.live_support import LiveSession, Member
from tests.node_agent import NodeAgent
from tests.support import Client
from tests.workspace_support import Person, member, workspace


@pytest.fixture
async def browser() -> AsyncIterator[aiohttp.ClientSession]:
    """A visitor's HTTP client that sends exactly the cookies a test gives it."""
    async with preview_browser() as session:
        yield session


async def preview_cookie(browser: aiohttp.ClientSession, site: str, who: Member) -> str:
    first = await browser.get(f"{site}/?token={who.token}", allow_redirects=False)
    assert first.status == 302, await first.text()
    return first.cookies["collab_preview"].value


async def test_a_visitors_token_never_reaches_the_app(
    client: Client, agent: NodeAgent, browser: aiohttp.ClientSession
) -> None:
    live, did = await probe(client, agent, "tk", public=True)
    site = preview_origin(client, did)
    outsider = Member("outsider", await register(client, "tkoutsider"))

    # An outsider opens a public preview with their token in the URL (a shared link): the
    # browser is sent on without it, and no cookie is made for a non-participant.
    first = await browser.get(f"{site}/page?a=1&token={outsider.token}", allow_redirects=False)
    assert first.status == 302, await first.text()
    assert first.headers["Location"] == "/page?a=1"
    assert "collab_preview" not in first.cookies
    seen = await (await browser.get(f"{site}/page?a=1")).json()
    assert seen["target"] == "/page?a=1"

    # Methods that are not redirected are proxied, still without the token, however spelt.
    for query in (f"token={outsider.token}&b=2", f"b=2&%74oken={outsider.token}"):
        posted = await browser.post(f"{site}/form?{query}")
        assert posted.status == 200
        assert (await posted.json())["target"] == "/form?b=2"

    # The page's own URL carried the token once: the Referer the browser sends for the
    # page's assets does not carry it on to the app.
    assets = await browser.get(
        f"{site}/app.js",
        headers={"Referer": f"{site}/?token={outsider.token}&x=1"},
    )
    seen = await assets.json()
    assert header(seen, "Referer") == [f"{site}/?x=1"]
    assert outsider.token not in json.dumps(seen)

    # Our bearer token is ours, not the app's; the app's own Authorization passes.
    ours = await (await browser.get(f"{site}/", headers=outsider.headers)).json()
    assert header(ours, "Authorization") == []
    for own in ("Basic dXNlcjpwYXNzd29yZA==", "Bearer the-apps-own-token"):
        theirs = await (await browser.get(f"{site}/", headers={"Authorization": own})).json()
        assert header(theirs, "Authorization") == [own]
    await stop(client, live, did)


async def test_a_private_previews_websocket_gets_no_token(
    client: Client, agent: NodeAgent, browser: aiohttp.ClientSession
) -> None:
    live, did = await probe(client, agent, "wt")
    site = preview_origin(client, did)
    async with browser.ws_connect(f"{site}/ws?room=1&token={live.viewer.token}") as ws:
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
    site = preview_origin(client, did)
    cookie = await preview_cookie(browser, site, live.viewer)
    sent = (
        f"theme=dark; collab_preview={cookie}; collab_refresh=r3fr3sh; "
        "__Host-collab_session=s3ss; b=2"
    )
    page = await browser.get(f"{site}/", headers={"Cookie": sent})
    assert page.status == 200
    seen = await page.json()
    assert header(seen, "Cookie") == ["theme=dark; b=2"]
    assert cookie not in json.dumps(seen)
    await stop(client, live, did)


async def test_hop_by_hop_headers_stop_at_the_proxy_both_ways(
    client: Client, agent: NodeAgent, browser: aiohttp.ClientSession
) -> None:
    live, did = await probe(client, agent, "hop", public=True)
    site = preview_origin(client, did)
    seen = await (
        await browser.get(
            f"{site}/",
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
        f"{site}/?"
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
    site = preview_origin(client, did)
    answer = await browser.get(
        f"{site}/?"
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
    site = preview_origin(client, did)
    app_host = header(await (await browser.get(f"{site}/")).json(), "Host")[0]
    public_host = site.removeprefix("http://")

    async def location(where: str, path: str = "/", status: int = 302) -> aiohttp.ClientResponse:
        return await browser.get(
            f"{site}{path}?" + respond(status, f"Location: {where}"), allow_redirects=False
        )

    for external in (
        "https://evil.example/phish",
        "//evil.example/phish",
        "HTTPS://EVIL.EXAMPLE",
        "javascript:alert(1)",
        "/\\evil.example/x",  # browsers read a backslash as a slash
        " /\t/evil.example/x",  # and drop tabs
        str(client.make_url("/api/auth/me")),  # the app's origin is not the preview's
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
        "/next?q=1": "/next?q=1",
        "next#top": "/a/b/next#top",
        f"http://{app_host}/inner": "/inner",  # its own address as it sees it
        f"http://{public_host}/outer": "/outer",  # X-Forwarded-Host honoured
        f"http://{public_host.upper()}/up": "/up",
        "../../../x": "/x",  # relative, climbing: the preview's root is the top
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
    site = preview_origin(client, did)
    fixed = {"error": {"code": "bad_gateway", "message": "The app did not answer."}}
    with caplog.at_level(logging.WARNING, logger="containers.preview"):
        died = await browser.get(f"{site}/?die=1")
        assert died.status == 502
        assert await died.json() == fixed
        # A WebSocket the app will not accept (it answers this path with plain HTTP).
        refused = await browser.get(
            f"{site}/not-a-socket",
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
        cut = await browser.get(f"{site}/?cut=1")
        assert cut.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await cut.read()
    # The reason is in the server's log, not in the answer.
    assert any(did in r.getMessage() for r in caplog.records if r.name == "containers.preview")
    await stop(client, live, did)


async def check_cookie_ends(
    browser: aiohttp.ClientSession, site: str, cookie: str, expected: int = 401
) -> None:
    page = await browser.get(f"{site}/", headers={"Cookie": f"collab_preview={cookie}"})
    assert page.status == expected, await page.text()
    if expected == 401:
        assert (await page.json())["error"]["code"] == "unauthorized"


async def test_logging_out_everywhere_ends_preview_cookies(
    client: Client, agent: NodeAgent, browser: aiohttp.ClientSession
) -> None:
    live, did = await probe(client, agent, "lo")
    site = preview_origin(client, did)
    cookie = await preview_cookie(browser, site, live.viewer)
    await check_cookie_ends(browser, site, cookie, 200)
    out = await client.post("/api/auth/logout-all", headers=live.viewer.headers)
    assert out.status == 204
    await check_cookie_ends(browser, site, cookie)  # at once, within the same second too

    # Logging in again gives a working cookie: the cut-off ends only what came before it.
    again = await client.post(
        "/api/auth/login", json={"login": "loviewer", "password": "Correct-Horse-7-Battery"}
    )
    fresh = Member("loviewer", await again.json())
    await check_cookie_ends(browser, site, await preview_cookie(browser, site, fresh), 200)
    await stop(client, live, did)


async def test_a_password_reset_or_deactivation_ends_preview_cookies(
    client: Client, agent: NodeAgent, browser: aiohttp.ClientSession, tmp_path: Path
) -> None:
    live, did = await probe(client, agent, "pr")
    site = preview_origin(client, did)
    viewer_cookie = await preview_cookie(browser, site, live.viewer)
    editor_cookie = await preview_cookie(browser, site, live.editor)
    await client.post("/api/auth/password/forgot", json={"email": "prviewer@example.org"})
    [mail] = [m for m in await outbox(client, tmp_path) if "Reset" in m["subject"]]
    token = link_token(mail["body"], "/reset-password")
    reset = await client.post(
        "/api/auth/password/reset", json={"token": token, "password": "New-Passw0rd-Here"}
    )
    assert reset.status == 204
    await check_cookie_ends(browser, site, viewer_cookie)

    await check_cookie_ends(browser, site, editor_cookie, 200)
    await client.app[ACCOUNTS].set_active(
        uuid.UUID(live.editor.user_id), False, ClientInfo("127.0.0.1", "test")
    )
    await check_cookie_ends(browser, site, editor_cookie)
    await stop(client, live, did)


async def test_removal_ends_preview_cookies_and_open_sockets(
    client: Client, agent: NodeAgent, browser: aiohttp.ClientSession
) -> None:
    live, did = await probe(client, agent, "rm")
    site = preview_origin(client, did)
    cookie = await preview_cookie(browser, site, live.viewer)
    await check_cookie_ends(browser, site, cookie, 200)
    async with browser.ws_connect(
        f"{site}/ws", headers={"Cookie": f"collab_preview={cookie}"}
    ) as ws:
        await ws.receive(timeout=5)
        participant = await live.participant_id(client, live.viewer)
        removed = await client.delete(
            f"/api/sessions/{live.session_id}/participants/{participant}",
            headers=live.owner.headers,
        )
        assert removed.status in (200, 204), await removed.text()
        await check_cookie_ends(browser, site, cookie)
        # The socket they already had open is closed too, within the re-check interval.
        closed = await ws.receive(timeout=8)
        assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), closed
    await stop(client, live, did)


async def test_the_owner_of_a_removed_cookie_still_sees_a_public_preview_anonymously(
    client: Client, agent: NodeAgent, browser: aiohttp.ClientSession
) -> None:
    live, did = await probe(client, agent, "pa", public=True)
    site = preview_origin(client, did)
    cookie = await preview_cookie(browser, site, live.viewer)
    await client.post("/api/auth/logout-all", headers=live.viewer.headers)
    page = await browser.get(f"{site}/", headers={"Cookie": f"collab_preview={cookie}"})
    assert page.status == 200  # public: anyone may look, as nobody in particular
    await stop(client, live, did)


async def test_a_bearer_credential_is_read_whatever_the_schemes_case(
    client: Client, agent: NodeAgent, browser: aiohttp.ClientSession
) -> None:
    live, did = await probe(client, agent, "bc")
    site = preview_origin(client, did)
    # RFC 9110: the scheme is case-insensitive, as the API reads it.
    for scheme in ("bearer", "BEARER", "Bearer"):
        page = await browser.get(
            f"{site}/", headers={"Authorization": f"{scheme}  {live.viewer.token}"}
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
    site = preview_origin(client, did)
    cookie = {"Cookie": f"collab_preview={await preview_cookie(browser, site, live.viewer)}"}
    conn = await asyncpg.connect(database_url)
    try:
        # The viewer's yes is kept: they lose access in the database, and still see pages.
        assert (await browser.get(f"{site}/", headers=cookie)).status == 200
        await conn.execute(
            "DELETE FROM session_participants WHERE session_id = $1 AND user_id = $2",
            uuid.UUID(live.session_id),
            uuid.UUID(live.viewer.user_id),
        )
        changed = time.monotonic()
        assert (await browser.get(f"{site}/app.js", headers=cookie)).status == 200
        assert time.monotonic() - changed < VERDICT_TTL  # else the line above proved nothing
        # ... for VERDICT_TTL at most.
        while (await browser.get(f"{site}/", headers=cookie)).status == 200:
            assert time.monotonic() - changed < VERDICT_TTL + 0.5, "the yes outlived its bound"
            await asyncio.sleep(0.05)

        # The row is kept: the deployment turns public, and for a moment it is still private.
        await asyncio.sleep(ROW_TTL)
        assert (await browser.get(f"{site}/", headers=live.owner.headers)).status == 200
        await conn.execute(
            "UPDATE deployments SET public = true WHERE deployment_id = $1", uuid.UUID(did)
        )
        changed = time.monotonic()
        assert (await browser.get(f"{site}/")).status == 401
        assert time.monotonic() - changed < ROW_TTL
        while (await browser.get(f"{site}/")).status == 401:
            assert time.monotonic() - changed < ROW_TTL + 0.5, "the row outlived its bound"
            await asyncio.sleep(0.05)
    finally:
        await conn.close()

    # A kept row does not outlive its deployment: once it stops, a visitor gets 503 (the
    # deployment is stopped), not a 502 from a container that is gone.
    assert (await browser.get(f"{site}/")).status == 200
    stopped = await client.post(f"/api/deployments/{did}/stop", headers=live.owner.headers)
    assert stopped.status == 202, await stopped.text()
    gone = await browser.get(f"{site}/")
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
    site = preview_origin(client, did)
    running = await wait_status(client, owner, did, "running", "failed")
    assert running["status"] == "running", running

    value = await preview_cookie(browser, site, looker)
    await check_cookie_ends(browser, site, value, 200)
    assert (await browser.get(f"{site}/", headers=looker.headers)).status == 200
    listed = await client.get(f"/api/sessions/{session_id}/participants", headers=owner.headers)
    assert [p["user"]["user_id"] for p in await listed.json()] == [owner.user_id]

    # Leaving the workspace ends their look at once, though their yes was just kept.
    removed = await client.delete(
        f"/api/workspaces/{ws}/members/{looker.user_id}", headers=owner.headers
    )
    assert removed.status in (200, 204), await removed.text()
    await check_cookie_ends(browser, site, value)
    await stop(client, live, did)
