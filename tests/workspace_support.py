"""People with workspaces, for tests: register someone, open a workspace, add a member."""

from __future__ import annotations

import json
from typing import Any

from tests.accounts_support import bearer, register
from tests.support import Client


class Person:
    def __init__(self, client: Client, pair: dict[str, Any]) -> None:
        self.client = client
        self.pair = pair
        self.id = pair["user"]["user_id"]
        self.email = pair["user"]["email"]

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"headers": bearer(self.pair)}
        if body is not None:
            kwargs["json"] = body
        response = await getattr(self.client, method)(path, **kwargs)
        text = await response.text()
        return response.status, json.loads(text) if text else None


async def person(client: Client, name: str) -> Person:
    return Person(client, await register(client, name))


async def workspace(owner: Person, **fields: Any) -> str:
    status, body = await owner.call("post", "/api/workspaces", {"name": "Project X"} | fields)
    assert status == 201, body
    return str(body["ws_id"])


async def member(owner: Person, ws: str, someone: Person, role: str) -> None:
    status, invitation = await owner.call(
        "post", f"/api/workspaces/{ws}/invitations", {"user_id": someone.id, "role": role}
    )
    assert status == 201, invitation
    status, body = await someone.call(
        "post", f"/api/invitations/workspace/{invitation['token']}/accept"
    )
    assert status == 200, body
