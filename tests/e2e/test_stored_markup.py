"""What another person controls is shown as text, never run as markup.

Names (first and last), a workspace's and a session's name and description, a file's path
(tree and tabs), an invitation's message: each is set to markup that would run script, and
the pages that show them to someone else are opened. A script that ran sets
`window.__pwned`; markup that was parsed but blocked by the CSP is a console violation,
which the `new_context` fixture fails the test on.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from playwright.async_api import Page, expect

from tests.e2e.browser_support import api, log_in, register, type_into_editor, wait_editable

MARKUP = '"><img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
PATH = "<img src=x onerror=window.__pwned=3>.py"


async def assert_not_run(page: Page, shown: str) -> None:
    await expect(page.get_by_text(shown, exact=False).first).to_be_visible(timeout=15_000)
    assert await page.evaluate("window.__pwned") is None
    assert await page.locator("main img[src=x], main script").count() == 0


async def test_markup_from_other_people_is_shown_as_text(server: Any, new_context: Any) -> None:
    base = server.url
    mallory = await register(base, "mallory")
    bob = await register(base, "bob")
    token = mallory["access_token"]
    await api(base, "PATCH", "/api/auth/me", token, {"first_name": MARKUP, "last_name": MARKUP})
    workspace = await api(
        base, "POST", "/api/workspaces", token, {"name": "W" + MARKUP, "description": MARKUP}
    )
    to_workspace = await api(
        base,
        "POST",
        f"/api/workspaces/{workspace['ws_id']}/invitations",
        token,
        {"user_id": bob["user"]["user_id"], "role": "editor"},
    )
    accept = f"/api/invitations/workspace/{to_workspace['token']}/accept"
    await api(base, "POST", accept, bob["access_token"])
    session = await api(
        base,
        "POST",
        "/api/sessions",
        token,
        {"name": "S" + MARKUP, "description": MARKUP, "language": "python"},
    )
    session_id = session["session_id"]
    invitation = await api(
        base,
        "POST",
        f"/api/sessions/{session_id}/invitations",
        token,
        {"role": "editor", "message": "M" + MARKUP},
    )

    # mallory writes a file under a path that is markup.
    mallory_page = await (await new_context()).new_page()
    await log_in(mallory_page, base, "mallory", f"/sessions/{session_id}?file={quote(PATH)}")
    await wait_editable(mallory_page)
    await type_into_editor(mallory_page, "print(1)\n")

    page = await (await new_context()).new_page()
    # The join page, logged out: the session's name, the inviter's name, the message.
    await page.goto(f"{base}/join/{invitation['token']}")
    await assert_not_run(page, "M" + MARKUP)
    await log_in(page, base, "bob", f"/join/{invitation['token']}")
    await assert_not_run(page, "S" + MARKUP)
    await page.get_by_test_id("accept-invitation").click()
    await page.wait_for_url(f"{base}/sessions/{session_id}*")
    await expect(page.locator(f'[data-testid=file][data-path="{PATH}"]')).to_be_visible(
        timeout=15_000
    )
    await page.locator(f'[data-testid=file][data-path="{PATH}"]').click()
    await wait_editable(page)
    await type_into_editor(page, "x = 2\n")  # mallory's caret label is her stamped name
    assert await page.evaluate("window.__pwned") is None
    assert await page.locator("img[src=x], main script").count() == 0
    # The home page and the workspace page.
    await page.goto(f"{base}/")
    await assert_not_run(page, "S" + MARKUP)
    await page.goto(f"{base}/workspaces/{workspace['ws_id']}")
    await assert_not_run(page, "W" + MARKUP)
