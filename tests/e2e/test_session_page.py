"""The session page as a team uses it: own-edit undo, live role changes, renames that keep
every open tab in step."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from playwright.async_api import expect

from tests.e2e.browser_support import ConsoleWatch, editor_text, wait_editable, wait_for_text
from tests.e2e.test_editing import open_file, shared_session, stored_text


async def test_undo_takes_back_only_my_own_edits(server: Any, new_context: Any) -> None:
    base = server.url
    session_id, _ = await shared_session(base, {"bob": "editor"})
    ada = await open_file(new_context, base, "ada", session_id)
    await wait_editable(ada)
    bob = await open_file(new_context, base, "bob", session_id)
    await wait_editable(bob)
    await ada.locator(".cm-content").click()
    await ada.keyboard.type("ada was here", delay=10)
    await wait_for_text(bob, "ada was here")
    await bob.locator(".cm-content").click()
    await bob.keyboard.press("Control+End")
    await bob.keyboard.type("\nbob too", delay=10)
    await wait_for_text(ada, "ada was here\nbob too")

    await ada.locator(".cm-content").click()
    await ada.keyboard.press("Control+z")
    # ada's words are gone everywhere, bob's stay.
    await wait_for_text(ada, "\nbob too")
    await wait_for_text(bob, "\nbob too")


async def test_the_owner_changes_a_role_and_it_applies_at_once(
    server: Any, new_context: Any, console: ConsoleWatch
) -> None:
    base = server.url
    session_id, owner = await shared_session(base, {"bob": "editor"})
    ada = await open_file(new_context, base, "ada", session_id)
    await wait_editable(ada)
    await ada.locator(".cm-content").click()
    await ada.keyboard.type("x = 1", delay=10)
    bob = await open_file(new_context, base, "bob", session_id)
    await wait_editable(bob)

    await ada.get_by_test_id("role-bob").select_option("viewer")
    await expect(bob.get_by_test_id("read-only")).to_be_visible()
    await expect(bob.locator(".cm-content")).to_have_attribute("contenteditable", "false")
    await bob.locator(".cm-content").click()
    await bob.keyboard.type("y = 2", delay=10)
    await asyncio.sleep(0.5)
    assert await editor_text(ada) == "x = 1"
    assert await stored_text(base, owner["access_token"], session_id) == "x = 1"

    await ada.get_by_test_id("role-bob").select_option("editor")
    await wait_editable(bob)
    await expect(bob.get_by_test_id("read-only")).to_be_hidden()
    # Bob's page asks for the session's invitations while he is an editor; when he is
    # demoted before it is answered, the server rightly says 403 and the panel hides.
    console.allow(r"status of 403 .*/invitations\)$")


async def test_a_rename_keeps_every_open_tab_in_step(server: Any, new_context: Any) -> None:
    base = server.url
    session_id, _ = await shared_session(base, {"bob": "editor"})
    ada = await open_file(new_context, base, "ada", session_id)
    await wait_editable(ada)
    await ada.locator(".cm-content").click()
    await ada.keyboard.type("print('renamed')", delay=5)
    bob = await open_file(new_context, base, "bob", session_id)
    await wait_for_text(bob, "print('renamed')")

    row = ada.get_by_test_id("file-tree").locator("li", has=ada.locator('[data-path="main.py"]'))
    await row.hover()
    await row.get_by_test_id("rename-file").click()
    await ada.get_by_test_id("rename-input").fill("app.py")
    await ada.get_by_test_id("rename-input").press("Enter")

    for page in (ada, bob):
        await expect(
            page.get_by_test_id("tab").and_(page.locator('[data-path="app.py"]'))
        ).to_be_visible()
        await expect(
            page.get_by_test_id("file").and_(page.locator('[data-path="main.py"]'))
        ).to_have_count(0)
        await expect(page).to_have_url(re.compile(r"file=app\.py"))
        await wait_for_text(page, "print('renamed')")
    # Still one live document: bob's next keystrokes reach ada under the new name.
    await bob.locator(".cm-content").click()
    await bob.keyboard.press("Control+End")
    await bob.keyboard.type("\n# still live", delay=10)
    await wait_for_text(ada, "print('renamed')\n# still live")
