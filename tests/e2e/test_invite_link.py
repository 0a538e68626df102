"""An owner makes an invite link in the UI; a brand-new person opens it, signs up and lands
in the session as an editor."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.e2e.browser_support import PASSWORD, api, log_in, register, wait_editable


async def test_a_new_user_joins_through_an_invite_link(server: Any, new_context: Any) -> None:
    base = server.url
    ada = await register(base, "ada")
    session = await api(
        base, "POST", "/api/sessions", ada["access_token"], {"name": "Kata", "language": "python"}
    )
    session_id = session["session_id"]

    owner = await (await new_context()).new_page()
    await log_in(owner, base, "ada", f"/sessions/{session_id}")
    await owner.get_by_test_id("invite-button").click()
    await owner.get_by_test_id("invite-role").select_option("editor")
    await owner.get_by_test_id("invite-submit").click()
    link = await owner.get_by_test_id("invite-link").input_value()
    assert link.startswith(f"{base}/join/"), link

    newcomer = await (await new_context()).new_page()
    await newcomer.goto(link)
    # Not logged in: the page says who invited whom to what, and offers to sign up.
    await expect(newcomer.locator("body")).to_contain_text("ada")
    await expect(newcomer.locator("body")).to_contain_text("Kata")
    await expect(newcomer.locator("body")).to_contain_text("editor")
    await newcomer.get_by_role("link", name="Sign up").click()
    await newcomer.wait_for_url("**/signup**")
    await newcomer.fill("input[name=email]", "nia@example.org")
    await newcomer.fill("input[name=username]", "nia")
    await newcomer.fill("input[name=password]", PASSWORD)
    await newcomer.click("button[type=submit]")
    # Back on the invitation, now logged in: accept it.
    await newcomer.wait_for_url("**/join/**")
    await newcomer.get_by_role("button", name="Accept").click()
    await newcomer.wait_for_url(f"**/sessions/{session_id}**")
    await expect(newcomer.get_by_test_id("my-role")).to_have_text("editor")
    # An editor indeed: their first file is theirs to write.
    await newcomer.goto(f"{base}/sessions/{session_id}?file=hello.py")
    await wait_editable(newcomer)

    participants = await api(
        base, "GET", f"/api/sessions/{session_id}/participants", ada["access_token"]
    )
    roles = {p["user"]["username"]: p["role"] for p in participants}
    assert roles["nia"] == "editor"
    await expect(owner.get_by_test_id("participants")).to_contain_text("nia")


async def test_a_spent_or_unknown_link_shows_a_page_not_json(
    server: Any, new_context: Any, console: Any
) -> None:
    base = server.url
    page = await (await new_context()).new_page()
    await page.goto(f"{base}/join/not-a-real-token")
    body = page.locator("body")
    await expect(body).to_contain_text("invitation")
    assert "{" not in await body.inner_text()
    await expect(page.get_by_test_id("invitation-gone")).to_be_visible()
    # The look-up's 404, which the page handled, is all Chromium logged.
    console.allow("status of 404")
