"""Deleting a workspace deletes its sessions (ON DELETE CASCADE); the sockets open in
them must be cut off as when a session is deleted, not left connected to a room whose
session no longer exists."""

from __future__ import annotations

from tests.node_agent import NodeAgent
from tests.sessions.test_session_access import as_member, eventually, open_document, ws_session
from tests.support import Client
from tests.workspace_support import member, person, workspace


async def test_deleting_a_workspace_cuts_off_its_sessions_sockets(
    client: Client, agent: NodeAgent
) -> None:
    olive, bob = await person(client, "wsdelolive"), await person(client, "wsdelbob")
    ws = await workspace(olive)
    await member(olive, ws, bob, "editor")
    shared = await ws_session(olive, ws)
    assert (await open_document(agent, client, "bob", as_member(bob, "bob"), shared))["synced"]
    # Someone who may not delete it changes nothing, and cuts nobody off.
    assert (await bob.call("delete", f"/api/workspaces/{ws}"))[0] == 403
    assert await agent.call("connected", name="bob")

    assert (await olive.call("delete", f"/api/workspaces/{ws}"))[0] == 204
    assert (await olive.call("get", f"/api/sessions/{shared}"))[0] == 404

    async def cut_off() -> bool:
        return not await agent.call("connected", name="bob")

    assert await eventually(cut_off), "a deleted workspace's session still holds a socket"
