"""What is done in a workspace's sessions is done to the workspace (its files are the
sessions' files, and a join link opens them to an outsider), so it is in the workspace's
audit log, which its owners and admins read, not only in the session's (its owner's)."""

from __future__ import annotations

from typing import Any

from tests.workspace_support import member, person, workspace


async def test_a_workspace_sessions_actions_are_in_the_workspace_audit_log(client: Any) -> None:
    olive, adam, eve = [await person(client, n) for n in ("wsaolive", "wsaadam", "wsaeve")]
    ws = await workspace(olive)
    await member(olive, ws, adam, "admin")
    status, session = await adam.call(
        "post", "/api/sessions", {"name": "team", "language": "python", "ws_id": ws}
    )
    assert status == 201, session
    base = f"/api/sessions/{session['session_id']}"
    status, link = await adam.call("post", f"{base}/invitations", {"role": "editor"})
    assert status == 201, link
    assert (await eve.call("post", f"/api/join/{link['token']}"))[0] == 200
    _, participants = await adam.call("get", f"{base}/participants")
    eves = next(p for p in participants if p["user"]["user_id"] == eve.id)
    assert (await adam.call("delete", f"{base}/participants/{eves['participant_id']}"))[0] == 204
    assert (await adam.call("delete", base))[0] == 204

    # The workspace's owner, who is no participant of the session, reads all of it.
    status, page = await olive.call("get", f"/api/workspaces/{ws}/audit-logs")
    assert status == 200, page
    about_session = [e for e in page["items"] if e["resource_type"] == "session"]
    assert [e["action"] for e in about_session] == [
        "session.deleted",
        "participant.removed",
        "session_invitation.accepted",
        "session_invitation.sent",
        "session.created",
    ]
    assert all(e["ws_id"] == ws for e in about_session)


async def test_a_standalone_sessions_entries_stay_out_of_workspace_logs(client: Any) -> None:
    olive = await person(client, "wsaalone")
    ws = await workspace(olive)
    status, session = await olive.call("post", "/api/sessions", {"name": "s", "language": "py"})
    assert status == 201
    _, page = await olive.call("get", f"/api/workspaces/{ws}/audit-logs")
    assert [e["action"] for e in page["items"]] == ["workspace.created"]
    _, log = await olive.call("get", f"/api/sessions/{session['session_id']}/audit-logs")
    assert [(e["action"], e["ws_id"]) for e in log["items"]] == [("session.created", None)]
