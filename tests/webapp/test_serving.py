"""The web app is served at `/` and its page routes, without shadowing the API."""

from __future__ import annotations

import re

from tests.support import Client


async def test_root_and_page_routes_answer_the_app(client: Client) -> None:
    for path in ("/", "/login", "/signup", "/sessions/abc?file=main.py", "/join/tok"):
        response = await client.get(path)
        assert response.status == 200, path
        assert response.content_type == "text/html"
        assert response.headers["Cache-Control"] == "no-cache"
        assert '<div id="app">' in await response.text()


async def test_assets_are_served_with_long_caching(client: Client) -> None:
    page = await (await client.get("/")).text()
    script = re.search(r'src="(/assets/app-[A-Za-z0-9]+\.js)"', page)
    assert script is not None
    response = await client.get(script.group(1))
    assert response.status == 200
    assert "immutable" in response.headers["Cache-Control"]
    # Sent precompressed to browsers that take gzip, as is to others.
    assert response.headers.get("Content-Encoding") == "gzip"
    plain = await client.get(script.group(1), headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert await plain.read() == await response.read()
    assert (await client.get("/assets/nope.js")).status == 404
    assert (await client.get("/assets/index.html")).status == 404


async def test_api_paths_keep_their_json_answers(client: Client) -> None:
    missing = await client.get("/api/nope")
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "not_found"
    wrong_method = await client.get("/api/auth/login")
    assert wrong_method.status == 405
    assert (await wrong_method.json())["error"]["code"] == "method_not_allowed"
    assert (await client.get("/healthz")).status == 200
