"""Two people in two browsers: typing at once, a viewer, and edits made offline."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from playwright.async_api import Page, expect

from tests.e2e.browser_support import (
    ConsoleWatch,
    api,
    editor_text,
    log_in,
    register,
    type_into_editor,
    wait_editable,
    wait_for_text,
)


async def shared_session(base: str, guests: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """ada's python session, with each guest joined under the given role."""
    ada = await register(base, "ada")
    session = await api(
        base, "POST", "/api/sessions", ada["access_token"], {"name": "Pair", "language": "python"}
    )
    session_id = session["session_id"]
    for name, role in guests.items():
        guest = await register(base, name)
        invitation = await api(
            base,
            "POST",
            f"/api/sessions/{session_id}/invitations",
            ada["access_token"],
            {"role": role},
        )
        await api(base, "POST", f"/api/join/{invitation['token']}", guest["access_token"])
    return session_id, ada


async def open_file(new_context: Any, base: str, name: str, session_id: str) -> Page:
    context = await new_context()
    page: Page = await context.new_page()
    await log_in(page, base, name, f"/sessions/{session_id}?file=main.py")
    return page


async def stored_text(base: str, token: str, session_id: str, path: str = "main.py") -> str:
    text: str = await api(base, "GET", f"/api/sessions/{session_id}/files/{path}", token)
    return text


async def test_two_people_type_into_one_file_at_once(server: Any, new_context: Any) -> None:
    base = server.url
    session_id, ada = await shared_session(base, {"bob": "editor"})
    ada_page = await open_file(new_context, base, "ada", session_id)
    await wait_editable(ada_page)
    # A reload keeps the login: the refresh token is an HttpOnly cookie, never page storage.
    await ada_page.reload()
    await wait_editable(ada_page)
    storage = await ada_page.evaluate("JSON.stringify([localStorage, sessionStorage])")
    assert "eyJ" not in storage and "refresh" not in storage
    assert "collab_refresh" not in await ada_page.evaluate("document.cookie")

    await type_into_editor(ada_page, "# ada's line\n\n# bob's line")
    bob_page = await open_file(new_context, base, "bob", session_id)
    await wait_editable(bob_page)
    await expect(bob_page.locator(".cm-content")).to_contain_text("# bob's line")

    async def ada_types() -> None:
        await ada_page.locator(".cm-content").click()
        await ada_page.keyboard.press("Control+Home")
        await ada_page.keyboard.press("End")
        await ada_page.keyboard.type(" and ada typed this", delay=20)

    async def bob_types() -> None:
        await type_into_editor(bob_page, " while bob typed this", delay=20)

    await asyncio.gather(ada_types(), bob_types())
    for page in (ada_page, bob_page):
        await expect(page.locator(".cm-content")).to_contain_text("ada typed this")
        await expect(page.locator(".cm-content")).to_contain_text("bob typed this")
    expected = "# ada's line and ada typed this\n\n# bob's line while bob typed this"
    await wait_for_text(ada_page, expected)
    await wait_for_text(bob_page, expected)
    # Each sees the other's cursor, labelled with their name.
    await expect(ada_page.locator(".cm-ySelectionInfo", has_text="bob")).to_be_attached()
    await expect(bob_page.locator(".cm-ySelectionInfo", has_text="ada")).to_be_attached()
    # And the server stored exactly what both see.
    for _ in range(50):
        if await stored_text(base, ada["access_token"], session_id) == expected:
            break
        await asyncio.sleep(0.1)
    assert await stored_text(base, ada["access_token"], session_id) == expected


async def test_a_viewer_cannot_change_the_file(server: Any, new_context: Any) -> None:
    base = server.url
    session_id, ada = await shared_session(base, {"vic": "viewer"})
    ada_page = await open_file(new_context, base, "ada", session_id)
    await wait_editable(ada_page)
    await type_into_editor(ada_page, "print('only ada writes')")
    vic_page = await open_file(new_context, base, "vic", session_id)
    await expect(vic_page.locator(".cm-content")).to_contain_text("only ada writes")
    await expect(vic_page.get_by_test_id("read-only")).to_be_visible()
    await expect(vic_page.get_by_test_id("read-only")).to_contain_text(
        re.compile("read-only", re.I)
    )
    await expect(vic_page.locator(".cm-content")).to_have_attribute("contenteditable", "false")

    await vic_page.locator(".cm-content").click()
    await vic_page.keyboard.type("vandalism", delay=10)
    await vic_page.keyboard.press("Control+a")
    await vic_page.keyboard.press("Delete")
    await asyncio.sleep(1.0)
    assert await editor_text(vic_page) == "print('only ada writes')"
    assert await editor_text(ada_page) == "print('only ada writes')"
    assert await stored_text(base, ada["access_token"], session_id) == "print('only ada writes')"


async def test_edits_typed_offline_merge_when_back(
    server: Any, new_context: Any, console: ConsoleWatch
) -> None:
    base = server.url
    session_id, ada = await shared_session(base, {"bob": "editor"})
    ada_page = await open_file(new_context, base, "ada", session_id)
    await wait_editable(ada_page)
    await type_into_editor(ada_page, "line one\n")
    bob_page = await open_file(new_context, base, "bob", session_id)
    await wait_editable(bob_page)
    await expect(bob_page.locator(".cm-content")).to_contain_text("line one")

    await bob_page.context.set_offline(True)
    await expect(bob_page.get_by_test_id("connection")).to_have_text(
        re.compile("offline|reconnecting", re.I), timeout=15_000
    )
    await type_into_editor(bob_page, "typed offline by bob")
    await type_into_editor(ada_page, "meanwhile ada\n")
    await asyncio.sleep(1.0)
    assert "typed offline by bob" not in await editor_text(ada_page)

    await bob_page.context.set_offline(False)
    for page in (ada_page, bob_page):
        await expect(page.locator(".cm-content")).to_contain_text(
            "typed offline by bob", timeout=30_000
        )
        await expect(page.locator(".cm-content")).to_contain_text("meanwhile ada")
    await expect(bob_page.get_by_test_id("connection")).to_have_text(
        re.compile("^\\s*connected", re.I), timeout=15_000
    )
    assert await editor_text(ada_page) == await editor_text(bob_page)
    # The reconnect attempts made while offline fail by design; nothing else may.
    console.allow("net::ERR_INTERNET_DISCONNECTED")
    for _ in range(50):
        if await stored_text(base, ada["access_token"], session_id) == await editor_text(ada_page):
            break
        await asyncio.sleep(0.1)
    assert await stored_text(base, ada["access_token"], session_id) == await editor_text(ada_page)
