"""A streamed answer of the app's origin carries the security headers too.

The headers were added after the handler returned, which skipped a response the handler had
already prepared: the archive download (`archive.zip`, streamed) went out without `nosniff`,
`Referrer-Policy`, a CSP, or CORS for an allowed front-end's origin.
"""

from __future__ import annotations

from typing import Any

from tests.accounts_support import bearer, register
from tests.support import Client


async def test_the_streamed_archive_has_the_security_headers(client: Client) -> None:
    pair = await register(client, "ada")
    session = await client.post(
        "/api/sessions", json={"name": "S", "language": "python"}, headers=bearer(pair)
    )
    assert session.status == 201
    session_id = (await session.json())["session_id"]
    response = await client.get(f"/api/sessions/{session_id}/archive.zip", headers=bearer(pair))
    assert response.status == 200
    await response.read()
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Referrer-Policy") == "no-referrer"
    assert (
        response.headers.get("Content-Security-Policy")
        == "default-src 'none'; frame-ancestors 'none'"
    )


async def test_an_allowed_front_end_may_fetch_the_streamed_archive(make_client: Any) -> None:
    client: Client = await make_client(allowed_origins=("https://ide.example.com",))
    pair = await register(client, "ada")
    session = await client.post(
        "/api/sessions", json={"name": "S", "language": "python"}, headers=bearer(pair)
    )
    session_id = (await session.json())["session_id"]
    allowed = await client.get(
        f"/api/sessions/{session_id}/archive.zip",
        headers={**bearer(pair), "Origin": "https://ide.example.com"},
    )
    assert allowed.status == 200
    await allowed.read()
    assert allowed.headers.get("Access-Control-Allow-Origin") == "https://ide.example.com"
    assert "Origin" in allowed.headers.get("Vary", "")
    other = await client.get(
        f"/api/sessions/{session_id}/archive.zip",
        headers={**bearer(pair), "Origin": "https://evil.example"},
    )
    await other.read()
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Origin" in other.headers.get("Vary", "")
