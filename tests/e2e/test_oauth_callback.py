"""`/oauth/callback#access_token=…` takes a token only for a provider login
this tab started.

The page is a plain route of the app: anyone can hand a victim a link to it carrying the
attacker's own access token in the fragment. The app took it, and the victim then worked in
the attacker's account (their code and secrets typed into the attacker's sessions) until the
next refresh: the login CSRF the server's OAuth state cookie exists to prevent. The provider
buttons already remember, in this tab's `sessionStorage`, where to return to; that trip is
now also what the callback page requires (and the page it names is where the person lands,
which `main.tsx` used to forget before the callback page could read it).
"""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.e2e.browser_support import log_in, register

OAUTH_NEXT_KEY = "collab.oauth.next"


def callback(base: str, token: str) -> str:
    return f"{base}/oauth/callback#access_token={token}&expires_in=900"


async def test_a_handed_callback_link_does_not_log_the_victim_into_another_account(
    server: Any, new_context: Any
) -> None:
    base = server.url
    mallory = await register(base, "mallory")
    await register(base, "bob")

    # bob, logged in, opens mallory's link: he stays bob.
    page = await (await new_context()).new_page()
    await log_in(page, base, "bob")
    await page.goto(callback(base, mallory["access_token"]))
    await page.wait_for_url(f"{base}/", timeout=10_000)
    await expect(page.get_by_role("link", name="bob", exact=True)).to_be_visible()
    await page.wait_for_timeout(500)
    assert await page.get_by_role("link", name="mallory", exact=True).count() == 0
    assert "access_token" not in page.url

    # Someone logged out is not logged in as mallory either.
    page = await (await new_context()).new_page()
    await page.goto(callback(base, mallory["access_token"]))
    await expect(page.get_by_role("alert")).to_be_visible(timeout=10_000)
    await page.goto(f"{base}/")
    await page.wait_for_url(f"{base}/login*", timeout=10_000)
    assert "access_token" not in page.url


async def test_a_provider_login_this_tab_started_lands_where_it_began(
    server: Any, new_context: Any
) -> None:
    base = server.url
    bob = await register(base, "bob")
    page = await (await new_context()).new_page()
    # What the provider button does before the trip (the provider itself is not in this test).
    await page.goto(f"{base}/login?next=/settings/security")
    await page.evaluate(
        "([key, next]) => sessionStorage.setItem(key, next)", [OAUTH_NEXT_KEY, "/settings/security"]
    )
    await page.goto(callback(base, bob["access_token"]))
    await page.wait_for_url(f"{base}/settings/security", timeout=10_000)
    await expect(page.get_by_role("link", name="bob", exact=True)).to_be_visible()
    assert await page.evaluate(f"sessionStorage.getItem('{OAUTH_NEXT_KEY}')") is None
