"""Deploying from the UI: the preview opens on its own origin, apart from the app's."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from playwright.async_api import Request, expect

from tests.e2e.browser_support import api, fetch_status, log_in, register, wait_editable


async def test_an_html_preview_runs_on_its_own_origin(
    deploy_server: Any, new_context: Any, console: Any
) -> None:
    base = deploy_server.url
    ada = await register(base, "ada")
    session = await api(
        base, "POST", "/api/sessions", ada["access_token"], {"name": "Site", "language": "html"}
    )
    session_id = session["session_id"]
    context = await new_context()
    page = await context.new_page()
    await log_in(page, base, "ada", f"/sessions/{session_id}?file=index.html")
    await wait_editable(page)
    await page.locator(".cm-content").click()
    await page.keyboard.type("<h1>Hello from the preview</h1>", delay=5)
    for _ in range(50):
        text = await api(
            base, "GET", f"/api/sessions/{session_id}/files/index.html", ada["access_token"]
        )
        if "Hello from the preview" in text:
            break
        await page.wait_for_timeout(100)

    await page.get_by_test_id("deploy").click()
    await expect(page.get_by_test_id("deployment-status").first).to_have_text(
        re.compile("running", re.I), timeout=90_000
    )
    async with context.expect_page() as opened:
        await page.get_by_test_id("preview-link").first.click()
    preview = await opened.value
    await expect(preview.locator("h1")).to_have_text("Hello from the preview", timeout=30_000)

    app_host = urlsplit(base).netloc
    preview_host = urlsplit(preview.url).netloc
    port = urlsplit(base).port
    assert re.fullmatch(rf"[0-9a-f-]{{36}}\.localhost:{port}", preview_host), preview.url
    assert preview_host != app_host
    assert "token=" not in preview.url  # traded for the preview's own cookie
    # A script on the preview can read no cookie (the preview's own is HttpOnly, the app's
    # live on another site) and cannot reach the opener.
    assert await preview.evaluate("document.cookie") == ""
    assert await preview.evaluate("window.opener === null")

    # A credentialed fetch to the app's API carries no credentials and its answer is unreadable.
    sent: list[Request] = []
    preview.on("request", lambda request: sent.append(request))
    outcome = await fetch_status(preview, f"{base}/api/auth/me")
    assert outcome == "blocked", outcome
    to_api = [r for r in sent if r.url.startswith(f"{base}/api/")]
    assert to_api, "the fetch was not even attempted"
    for request in to_api:
        headers = await request.all_headers()
        assert "cookie" not in headers and "authorization" not in headers, headers
    console.allow(r"CORS|Failed to fetch|ERR_FAILED|Access-Control")

    # The app's origin does not serve the preview, and the preview origin does not serve the app.
    deployment_id = preview_host.split(".")[0]
    app_path = await page.request.get(f"{base}/preview/{deployment_id}/")
    assert app_path.status == 404
    # The preview's host proxies every path to the container: the API is not there.
    [preview_cookie] = await context.cookies(preview.url)
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{base}/api/auth/me",
            headers={
                "Host": preview_host,
                "Cookie": f"{preview_cookie['name']}={preview_cookie['value']}",
            },
        ) as not_app,
    ):
        assert not_app.status == 404  # busybox httpd's answer: no such file in the app
        assert "application/json" not in not_app.headers.get("Content-Type", "")
