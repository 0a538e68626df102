"""Helpers for live-session tests: people, a session with roles, and the Node agent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.accounts_support import bearer, register
from tests.node_agent import NodeAgent, node_available
from tests.support import Client


@dataclass
class Member:
    name: str
    pair: dict[str, Any]

    @property
    def token(self) -> str:
        return str(self.pair["access_token"])

    @property
    def user_id(self) -> str:
        return str(self.pair["user"]["user_id"])

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.pair)


@dataclass
class LiveSession:
    session_id: str
    owner: Member
    editor: Member
    viewer: Member

    def room(self, path: str = "main.py") -> str:
        return f"{self.session_id}/{path}"

    async def participant_id(self, client: Client, member: Member) -> str:
        response = await client.get(
            f"/api/sessions/{self.session_id}/participants", headers=self.owner.headers
        )
        participants = await response.json()
        return str(
            next(
                p["participant_id"] for p in participants if p["user"]["user_id"] == member.user_id
            )
        )


async def add_member(
    client: Client, session_id: str, owner: Member, name: str, role: str
) -> Member:
    member = Member(name, await register(client, name))
    response = await client.post(
        f"/api/sessions/{session_id}/invitations", json={"role": role}, headers=owner.headers
    )
    assert response.status == 201, await response.text()
    token = (await response.json())["token"]
    joined = await client.post(f"/api/join/{token}", headers=member.headers)
    assert joined.status == 200, await joined.text()
    return member


async def live_session(client: Client, prefix: str = "") -> LiveSession:
    owner = Member(f"{prefix}owner", await register(client, f"{prefix}owner"))
    response = await client.post(
        "/api/sessions", json={"name": "Pairing", "language": "python"}, headers=owner.headers
    )
    assert response.status == 201, await response.text()
    session_id = (await response.json())["session_id"]
    editor = await add_member(client, session_id, owner, f"{prefix}editor", "editor")
    viewer = await add_member(client, session_id, owner, f"{prefix}viewer", "viewer")
    return LiveSession(session_id, owner, editor, viewer)


async def start_agent() -> NodeAgent:
    reason = node_available()
    if reason is not None:
        pytest.fail(f"the interop tests need the npm clients: {reason}")
    return await NodeAgent().start()
