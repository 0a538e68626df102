"""Previews on their own origin: `http://{deployment_id}.localhost:{port}`, routed by `Host`.

A preview host is the preview's alone (never the app's page, `/api` or `/socket.io`), the
app's host serves no preview unless COLLAB_PREVIEW_PATHS asks for it, and a private
preview's token becomes a cookie of the preview's host only.
"""

from __future__ import annotations

import uuid
from http.cookies import SimpleCookie
from typing import Any

from yarl import URL

from tests.containers.probe import header, probe, stop
from tests.deploy_support import browser, preview_origin
from tests.node_agent import NodeAgent
from tests.support import Client


async def test_a_preview_host_never_serves_the_app_or_the_api(
    client: Client, agent: NodeAgent
) -> None:
    live, did = await probe(client, agent, "ho", public=True)
    site = preview_origin(client, did)
    app = str(client.make_url("")).rstrip("/")
    async with browser() as visitor:
        # Every path is the deployed app's, the server's own routes included.
        for path in (
            "/",
            "/login",
            "/sessions/x",
            f"/api/deployments/{did}",
            "/api/auth/me",
            "/socket.io/?EIO=4&transport=polling",
            f"/preview/{did}/",
        ):
            page = await visitor.get(f"{site}{path}", headers=live.owner.headers)
            assert page.status == 200, (path, await page.text())
            assert (await page.json())["target"] == path, path
            # None of the app's headers: the app's CSP would break the deployed page.
            assert "Content-Security-Policy" not in page.headers, path
        posted = await visitor.post(f"{site}/api/auth/login")  # (the probe reads no body)
        assert (await posted.json())["target"] == "/api/auth/login"

        # The same requests on the app's host are the server's.
        mine = await visitor.get(f"{app}/api/deployments/{did}", headers=live.owner.headers)
        assert (await mine.json())["deployment_id"] == did

        # Host names are case-insensitive; the app still sees the Host it was asked on.
        upper = f"{did.upper()}.LOCALHOST:{client.port}"
        seen = await (await visitor.get(f"{app}/x", headers={"Host": upper})).json()
        assert seen["target"] == "/x"
        assert header(seen, "X-Forwarded-Host") == [upper]
        assert header(seen, "X-Forwarded-Prefix") == []

        # A Host on another port is not a preview: the app's routes answer it.
        assert client.port is not None
        other = f"{did}.localhost:{client.port + 1}"
        api = await visitor.get(
            f"{app}/api/deployments/{did}", headers={"Host": other, **live.owner.headers}
        )
        assert (await api.json())["deployment_id"] == did
    await stop(client, live, did)


async def test_subdomains_that_name_no_deployment_answer_404(client: Client) -> None:
    """Whatever the path: they are the previews' hosts, so never the app's."""
    app = str(client.make_url("")).rstrip("/")
    async with browser() as visitor:
        for label in ("www", "nope", str(uuid.uuid4()), uuid.uuid4().hex, f"a.{uuid.uuid4()}"):
            for path in ("/", "/api/auth/me", "/socket.io/?EIO=4&transport=polling"):
                host = f"{label}.localhost:{client.port}"
                page = await visitor.get(f"{app}{path}", headers={"Host": host})
                assert page.status == 404, (host, path)
                assert await page.json() == {
                    "error": {"code": "not_found", "message": "No such deployment."}
                }
                assert "X-Request-ID" in page.headers
                assert "Content-Security-Policy" not in page.headers


async def test_the_apps_host_serves_no_preview_by_default(client: Client, agent: NodeAgent) -> None:
    live, did = await probe(client, agent, "pd", public=True)
    for path in (f"/preview/{did}/", f"/preview/{did}", f"/preview/{did}/x?token=t"):
        answer = await client.get(path, headers=live.owner.headers, allow_redirects=False)
        assert answer.status == 404, path
        assert (await answer.json())["error"]["code"] == "not_found"
    await stop(client, live, did)


async def test_path_previews_only_when_asked(
    make_client: Any, runtime_images: str, agent: NodeAgent
) -> None:
    """COLLAB_PREVIEW_PATHS=true: also under `/preview/{id}/` on the app's origin, as before
    previews had their own (the prefix told to the app, its redirects kept under it, the
    cookie scoped to the prefix)."""
    client = await make_client(docker_host=runtime_images, preview_paths=True)
    live, did = await probe(client, agent, "pp")
    prefix = f"/preview/{did}"
    assert (await client.get(prefix, allow_redirects=False)).headers["Location"] == f"{prefix}/"
    first = await client.get(f"{prefix}/p?token={live.viewer.token}", allow_redirects=False)
    assert first.status == 302 and first.headers["Location"] == f"{prefix}/p"
    cookie = first.cookies["collab_preview"]
    assert cookie["path"] == f"{prefix}/" and cookie["httponly"]
    page = await client.get(f"{prefix}/a/b", cookies={"collab_preview": cookie.value})
    seen = await page.json()
    assert seen["target"] == "/a/b"
    assert header(seen, "X-Forwarded-Prefix") == [prefix]
    moved = await client.get(
        f"{prefix}/a/b?status=302&h=Location:../c",
        cookies={"collab_preview": cookie.value},
        allow_redirects=False,
    )
    assert moved.headers["Location"] == f"{prefix}/c"
    # ... and still on its own origin.
    async with browser() as visitor:
        own = await visitor.get(
            f"{preview_origin(client, did)}/a", headers={"Cookie": f"collab_preview={cookie.value}"}
        )
        assert (await own.json())["target"] == "/a"
    await stop(client, live, did)


async def test_a_private_previews_token_becomes_a_cookie_of_its_host_alone(
    client: Client, agent: NodeAgent
) -> None:
    live, did = await probe(client, agent, "pc")
    _, other_did = await probe(client, agent, "po")
    site, other_site = preview_origin(client, did), preview_origin(client, other_did)
    app = str(client.make_url("")).rstrip("/")
    async with browser(cookies=True) as visitor:
        first = await visitor.get(
            f"{site}/page?a=1&token={live.viewer.token}", allow_redirects=False
        )
        assert first.status == 302
        assert first.headers["Location"] == "/page?a=1"  # the same URL, without the token
        [set_cookie] = first.headers.getall("Set-Cookie")
        morsel = SimpleCookie(set_cookie)["collab_preview"]
        assert morsel["path"] == "/"
        assert morsel["domain"] == ""  # host-only: this preview's host, no other
        assert morsel["httponly"] is True
        # Lax: the IDE opens a preview in a new tab (a cross-site navigation), and the
        # redirect that follows must carry the cookie.
        assert morsel["samesite"] == "Lax"
        assert not morsel["secure"]  # plain http here; Secure on https

        page = await visitor.get(f"{site}/page?a=1")
        assert page.status == 200
        assert header(await page.json(), "Cookie") == []  # ours, never the app's
        assert list(visitor.cookie_jar.filter_cookies(URL(f"{app}/"))) == []
        assert list(visitor.cookie_jar.filter_cookies(URL(f"{other_site}/"))) == []
        assert list(visitor.cookie_jar.filter_cookies(URL(f"{site}/x"))) == ["collab_preview"]

        # Even sent there on purpose, it is worth nothing on another preview's host.
        value = first.cookies["collab_preview"].value
        elsewhere = await visitor.get(
            f"{app}/", headers={"Host": other_site[7:], "Cookie": f"collab_preview={value}"}
        )
        assert elsewhere.status == 401
    await stop(client, live, did)
    await stop(client, live, other_did)
