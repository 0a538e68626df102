"""Driving several `collab serve` processes over HTTP: calls and a session to share."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.live_support import Member


async def api(
    http: aiohttp.ClientSession, method: str, url: str, token: str | None = None, body: Any = None
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.request(method, url, json=body, headers=headers) as response:
        assert response.status < 300, await response.text()
        return (
            await response.json()
            if response.content_type == "application/json"
            else await response.text()
        )


async def setup_session(http: aiohttp.ClientSession, base: str) -> tuple[str, Member, Member]:
    people = []
    for name in ("alpha", "beta"):
        pair = await api(
            http,
            "POST",
            f"{base}/api/auth/register",
            body={
                "email": f"{name}@example.org",
                "username": name,
                "password": "Correct-Horse-7-Battery",
            },
        )
        people.append(Member(name, pair))
    owner, editor = people
    session = await api(
        http, "POST", f"{base}/api/sessions", owner.token, {"name": "Scale", "language": "python"}
    )
    invitation = await api(
        http,
        "POST",
        f"{base}/api/sessions/{session['session_id']}/invitations",
        owner.token,
        {"role": "editor"},
    )
    await api(http, "POST", f"{base}/api/join/{invitation['token']}", editor.token)
    return session["session_id"], owner, editor
