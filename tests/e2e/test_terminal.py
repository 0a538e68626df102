"""The shared terminal in the browser: an editor opens it on a running deployment and types;
a viewer sees the same screen, read-only, with no way to open one."""

from __future__ import annotations

import asyncio
from typing import Any

from playwright.async_api import expect

from tests.e2e.browser_support import api, log_in, register


async def test_a_terminal_typed_by_the_owner_is_watched_by_a_viewer(
    deploy_server: Any, new_context: Any
) -> None:
    base = deploy_server.url
    ada = await register(base, "ada")
    bob = await register(base, "bob")
    session = await api(
        base, "POST", "/api/sessions", ada["access_token"], {"name": "Site", "language": "html"}
    )
    session_id = session["session_id"]
    invitation = await api(
        base,
        "POST",
        f"/api/sessions/{session_id}/invitations",
        ada["access_token"],
        {"role": "viewer"},
    )
    await api(base, "POST", f"/api/join/{invitation['token']}", bob["access_token"])
    started = await api(
        base, "POST", f"/api/sessions/{session_id}/deployments", ada["access_token"], {}
    )
    for _ in range(300):
        row = await api(
            base, "GET", f"/api/deployments/{started['deployment_id']}", ada["access_token"]
        )
        if row["status"] != "starting":
            break
        await asyncio.sleep(0.1)
    assert row["status"] == "running", row

    owner_page = await (await new_context()).new_page()
    await log_in(owner_page, base, "ada", f"/sessions/{session_id}")
    viewer_page = await (await new_context()).new_page()
    await log_in(viewer_page, base, "bob", f"/sessions/{session_id}")
    await expect(viewer_page.get_by_test_id("my-role")).to_contain_text("viewer")

    await owner_page.get_by_test_id("open-terminal").click()
    screen = owner_page.get_by_test_id("terminal")
    await expect(screen).to_be_visible(timeout=15_000)
    await expect(screen).to_contain_text("$", timeout=15_000)  # the prompt
    await screen.click()
    await owner_page.keyboard.type("echo $((6*7)); id -u", delay=10)
    await owner_page.keyboard.press("Enter")
    # Only the commands' results: the typed line says neither.
    await expect(screen).to_contain_text("42", timeout=10_000)
    await expect(screen).to_contain_text("65534")

    watched = viewer_page.get_by_test_id("terminal")
    await expect(watched).to_contain_text("42", timeout=10_000)
    await expect(watched).to_have_attribute("data-read-only", "true")
    await expect(viewer_page.get_by_test_id("open-terminal")).to_have_count(0)
    await expect(viewer_page.get_by_test_id("close-terminal")).to_have_count(0)
    # Keys on the viewer's screen go nowhere.
    await watched.click()
    await viewer_page.keyboard.type("echo viewer-was-here", delay=10)
    await viewer_page.keyboard.press("Enter")
    await owner_page.wait_for_timeout(500)
    assert "viewer-was-here" not in (await screen.inner_text())

    await owner_page.get_by_test_id("close-terminal").click()
    await expect(viewer_page.get_by_test_id("terminal-note")).to_contain_text("closed")
    await expect(owner_page.get_by_test_id("terminal")).to_have_count(0)
