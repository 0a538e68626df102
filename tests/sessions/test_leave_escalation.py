"""On a workspace session, the owner may make a workspace member a viewer of it. A
workspace member who has no participant row joins as an editor, so leaving (or being
removed) must not be a way to shed that demotion and come straight back as an editor."""

from __future__ import annotations

from typing import Any

from tests.session_support import socket_for
from tests.sessions.test_session_access import as_member
from tests.workspace_support import Person, member, person, workspace


async def _demoted(client: Any) -> tuple[Person, Person, str, str]:
    olive, bob = await person(client, "leaveolive"), await person(client, "leavebob")
    ws = await workspace(olive)
    await member(olive, ws, bob, "editor")
    status, session = await olive.call(
        "post", "/api/sessions", {"name": "team", "language": "python", "ws_id": ws}
    )
    assert status == 201, session
    base = f"/api/sessions/{session['session_id']}"
    assert (await bob.call("get", base))[1]["role"] == "editor"
    # Opening it gives him his place in it, as an editor.
    sio, _ = await socket_for(client, as_member(bob, "bob"))
    try:
        ack = await sio.call("session:join", {"session_id": session["session_id"]})
        assert ack["ok"], ack
    finally:
        await sio.disconnect()
    _, participants = await olive.call("get", f"{base}/participants")
    bobs = next(p for p in participants if p["user"]["user_id"] == bob.id)["participant_id"]
    status, body = await olive.call("patch", f"{base}/participants/{bobs}", {"role": "viewer"})
    assert status == 200 and body["role"] == "viewer", body
    assert (await bob.call("get", base))[1]["role"] == "viewer"
    return olive, bob, base, bobs


async def test_a_demoted_member_cannot_leave_to_become_an_editor_again(client: Any) -> None:
    _, bob, base, bobs = await _demoted(client)
    status, body = await bob.call("delete", f"{base}/participants/{bobs}")
    assert status == 409 and body["error"]["code"] == "conflict", body
    status, session = await bob.call("get", base)
    assert status == 200 and session["role"] == "viewer", session
    status, body = await bob.call("post", f"{base}/files/x.py/versions", {"name": "n"})
    assert status == 403, body


async def test_removing_a_demoted_member_does_not_promote_them(client: Any) -> None:
    olive, bob, base, bobs = await _demoted(client)
    status, _ = await olive.call("delete", f"{base}/participants/{bobs}")
    assert (await bob.call("get", base))[1]["role"] == "viewer", status
    # Made an editor again by the owner, he may leave as before (he would come back the same).
    assert (await olive.call("patch", f"{base}/participants/{bobs}", {"role": "editor"}))[0] == 200
    assert (await bob.call("delete", f"{base}/participants/{bobs}"))[0] == 204
