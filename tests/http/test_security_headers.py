"""Security headers: a strict CSP on the app's page, a nothing-allowed CSP on every other
answer, nosniff and no-referrer everywhere on the app's origin."""

from __future__ import annotations

import re

from aiohttp import ClientResponse

from collab.http.security_headers import OTHER_POLICY, PAGE_POLICY
from tests.support import Client

EXPECTED_PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def assert_common(response: ClientResponse) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_the_app_page_gets_the_strict_policy(client: Client) -> None:
    assert PAGE_POLICY == EXPECTED_PAGE_POLICY
    for path in ("/", "/login", "/join/some-token", "/verify-email?token=x"):
        response = await client.get(path)
        assert response.status == 200 and response.content_type == "text/html", path
        assert_common(response)
        assert response.headers["Content-Security-Policy"] == EXPECTED_PAGE_POLICY, path


async def test_the_page_has_no_inline_script(client: Client) -> None:
    """`script-src 'self'` would block it: every script must come from a file."""
    page = await (await client.get("/")).text()
    for tag in re.findall(r"<script\b[^>]*>(.*?)</script>", page, re.DOTALL):
        assert not tag.strip(), "inline script in the page"


async def test_every_other_answer_allows_nothing(client: Client) -> None:
    assert OTHER_POLICY == "default-src 'none'; frame-ancestors 'none'"
    page = await (await client.get("/")).text()
    script = re.search(r'src="(/assets/[^"]+\.js)"', page)
    assert script is not None
    for path, status in (
        ("/api/auth/me", 401),
        ("/api/nope", 404),
        ("/api/auth/providers", 200),
        ("/healthz", 200),
        (script.group(1), 200),
    ):
        response = await client.get(path)
        assert response.status == status, path
        assert_common(response)
        assert response.headers["Content-Security-Policy"] == OTHER_POLICY, path
    posted = await client.post("/api/auth/login", json={"login": "x", "password": "y"})
    assert posted.status == 401
    assert_common(posted)
    assert posted.headers["Content-Security-Policy"] == OTHER_POLICY


async def test_preview_paths_are_left_alone(client: Client) -> None:
    response = await client.get("/preview/00000000-0000-0000-0000-000000000000/")
    assert "Content-Security-Policy" not in response.headers
    assert "X-Content-Type-Options" not in response.headers
