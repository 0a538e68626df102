"""A workspace's two-factor rule reaches sockets already open, as a removal does.

New connections of someone without TOTP to a workspace that requires it are refused
(tests/auth/test_workspace_mfa.py); these tests hold the sockets open first: the real npm Yjs
client on a document, and a Socket.IO client that joined the session. Then the rule is turned
on, or the member turns TOTP off: those sockets are cut off at once, while the owner (with
TOTP) and the member's own session outside the workspace carry on.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.accounts_support import STRONG_PASSWORD
from tests.mfa_support import enable_totp
from tests.node_agent import NodeAgent
from tests.session_support import socket_for, wait_for
from tests.sessions.test_session_access import (
    as_member,
    eventually,
    open_document,
    refused_write,
    write,
    ws_session,
)
from tests.support import Client
from tests.workspace_support import member, person, workspace


def _removed_from(session_id: str, user_id: str) -> dict[str, Any]:
    return {"user_id": user_id, "session_id": session_id, "removed": True}


async def _connected(agent: NodeAgent, name: str) -> bool:
    return bool(await agent.call("connected", name=name))


async def _cut_off(agent: NodeAgent, name: str) -> bool:
    return not await _connected(agent, name)


async def test_turning_the_rule_on_cuts_off_open_sockets_of_members_without_totp(
    client: Client, agent: NodeAgent
) -> None:
    olive, bob = await person(client, "olive"), await person(client, "bob")
    ws = await workspace(olive)
    await member(olive, ws, bob, "editor")
    shared = await ws_session(olive, ws)
    o, b = as_member(olive, "olive"), as_member(bob, "bob")
    assert (await open_document(agent, client, "bob", b, shared))["synced"]
    assert (await open_document(agent, client, "olive", o, shared))["synced"]
    await write(agent, client, "bob", o, shared, "by bob\n")
    presence, events = await socket_for(client, b)
    try:
        assert (await presence.call("session:join", {"session_id": shared}))["ok"]

        await enable_totp(client, olive.pair)
        status, body = await olive.call("patch", f"/api/workspaces/{ws}", {"require_mfa": True})
        assert status == 200 and body["require_mfa"] is True

        # His open document socket writes no more and is cut off; his presence socket is
        # told, as a removed person is.
        await refused_write(agent, client, "bob", o, shared)
        assert await eventually(lambda: _cut_off(agent, "bob"))
        assert await wait_for(events, "participant:left") == _removed_from(shared, bob.id)
        # Out of the session's room: its events no longer reach him.
        await olive.call("patch", f"/api/sessions/{shared}", {"description": "secret plans"})
        await asyncio.sleep(0.3)
        assert "session:updated" not in [name for name, _ in events]
    finally:
        await presence.disconnect()
    # The owner, with TOTP, keeps writing through the socket she held open.
    await write(agent, client, "olive", o, shared, "by olive\n")
    # He keeps his place: with TOTP on, he is back.
    await enable_totp(client, bob.pair)
    assert (await open_document(agent, client, "bob-again", b, shared))["synced"]
    await write(agent, client, "bob-again", o, shared, "bob again\n")


async def test_turning_totp_off_cuts_off_open_sockets_in_workspaces_that_require_it(
    client: Client, agent: NodeAgent
) -> None:
    olive, bob = await person(client, "olive"), await person(client, "bob")
    ws = await workspace(olive)
    await member(olive, ws, bob, "editor")
    shared = await ws_session(olive, ws)
    status, own = await bob.call(
        "post", "/api/sessions", {"name": "bob's own", "language": "python"}
    )
    assert status == 201, own
    elsewhere = str(own["session_id"])
    await enable_totp(client, olive.pair)
    await enable_totp(client, bob.pair)
    assert (await olive.call("patch", f"/api/workspaces/{ws}", {"require_mfa": True}))[0] == 200
    o, b = as_member(olive, "olive"), as_member(bob, "bob")
    assert (await open_document(agent, client, "bob", b, shared))["synced"]
    assert (await open_document(agent, client, "bob-own", b, elsewhere))["synced"]
    await write(agent, client, "bob", o, shared, "by bob\n")
    presence, events = await socket_for(client, b)
    try:
        assert (await presence.call("session:join", {"session_id": shared}))["ok"]
        assert (await presence.call("session:join", {"session_id": elsewhere}))["ok"]

        status, _ = await bob.call("delete", "/api/auth/mfa/totp", {"password": STRONG_PASSWORD})
        assert status == 204

        await refused_write(agent, client, "bob", o, shared)
        assert await eventually(lambda: _cut_off(agent, "bob"))
        assert await wait_for(events, "participant:left") == _removed_from(shared, bob.id)
        # Only the workspace that requires two-factor: his own session carries on.
        assert await _connected(agent, "bob-own")
        await write(agent, client, "bob-own", b, elsewhere, "still mine\n")
        assert presence.connected
    finally:
        await presence.disconnect()
