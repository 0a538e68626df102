"""The `?next=` of the log-in page is a path on this site, however it is
spelled.

A browser's URL parser drops every tab and newline, so `/<TAB>/evil.example` passes a check
for a leading `//` yet is read as `//evil.example`: another origin. `history.pushState` throws
on it, so the person who logs in through such a link stays on a broken log-in page (the
`Redirect` of the logged-in guest page throws again on every render) instead of landing on
the app.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.browser_support import PASSWORD, register


async def test_a_next_that_is_another_origin_once_parsed_lands_home(
    server: Any, new_context: Any
) -> None:
    base = server.url
    await register(base, "ada")
    for hostile in (
        "/%09/evil.example/x",
        "/%0A/evil.example",
        "/%0D%0A/evil.example",
        "/%5C%09evil.example",
    ):
        page = await (await new_context()).new_page()  # logged out
        await page.goto(f"{base}/login?next={hostile}")
        await page.fill("input[name=login]", "ada")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{base}/", timeout=10_000)
    # Once logged in, the log-in page sends on at once: the same rule.
    await page.goto(f"{base}/login?next=/%09/evil.example")
    await page.wait_for_url(f"{base}/", timeout=10_000)
    # A path on this site still works, its query included.
    await page.goto(f"{base}/login?next=%2Fsettings%2Fsecurity%3Fa%3D1")
    await page.wait_for_url(f"{base}/settings/security?a=1", timeout=10_000)
