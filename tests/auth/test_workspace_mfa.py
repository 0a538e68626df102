"""A workspace that requires two-factor login: members without TOTP are refused its sessions
(REST, `session:join`) and documents (the Socket.IO document namespace, the workspace document
route) with 403 `mfa_required`; turning the rule on without TOTP oneself is refused (409)."""

from __future__ import annotations

from typing import Any

import socketio

from tests.mfa_support import enable_totp
from tests.realtime.test_socket_handshake import release
from tests.support import Client
from tests.workspace_support import Person, member, person, workspace


async def _socket(
    client: Client, who: Person, namespace: str | None = None
) -> socketio.AsyncClient:
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        str(client.make_url("/")),
        auth={"token": who.pair["access_token"]},
        transports=["websocket"],
        namespaces=[namespace] if namespace else None,
        wait_timeout=5,
    )
    return sio


async def _document_refusal(client: Client, who: Person, namespace: str) -> list[Any]:
    """The connect_error data of a refused document socket ([] when it connected)."""
    errors: list[Any] = []
    sio = socketio.AsyncClient(reconnection=False)
    sio.on("connect_error", lambda data: errors.append(data), namespace=namespace)
    try:
        await sio.connect(
            str(client.make_url("/")),
            auth={"token": who.pair["access_token"]},
            transports=["websocket"],
            namespaces=[namespace],
            wait_timeout=5,
        )
    except socketio.exceptions.ConnectionError:
        await release(sio)
        return errors
    await sio.disconnect()
    return errors


async def test_owner_without_totp_cannot_turn_the_rule_on(client: Client) -> None:
    owner = await person(client, "owner")
    ws = await workspace(owner)
    status, body = await owner.call("patch", f"/api/workspaces/{ws}", {"require_mfa": True})
    assert status == 409
    assert body["error"]["code"] == "conflict" and "two-factor" in body["error"]["message"]
    status, body = await owner.call("get", f"/api/workspaces/{ws}")
    assert body["require_mfa"] is False
    await enable_totp(client, owner.pair)
    status, body = await owner.call("patch", f"/api/workspaces/{ws}", {"require_mfa": True})
    assert status == 200 and body["require_mfa"] is True
    status, body = await owner.call("patch", f"/api/workspaces/{ws}", {"require_mfa": "maybe"})
    assert status == 422


async def test_a_member_without_totp_is_refused_sessions_and_documents(client: Client) -> None:
    owner = await person(client, "owner")
    editor = await person(client, "editor")
    ws = await workspace(owner)
    await member(owner, ws, editor, "editor")
    status, session = await owner.call(
        "post", "/api/sessions", {"name": "WS", "language": "python", "ws_id": ws}
    )
    assert status == 201, session
    sid = session["session_id"]
    namespace = f"/yjs|{sid}/main.py"
    # Before the rule: the member reads everything.
    assert (await editor.call("get", f"/api/sessions/{sid}"))[0] == 200
    assert (await editor.call("get", f"/api/workspaces/{ws}/document"))[0] == 200
    assert await _document_refusal(client, editor, namespace) == []

    await enable_totp(client, owner.pair)
    status, _ = await owner.call("patch", f"/api/workspaces/{ws}", {"require_mfa": True})
    assert status == 200

    # REST: the session, its files, the workspace document.
    for method, path in [
        ("get", f"/api/sessions/{sid}"),
        ("get", f"/api/sessions/{sid}/files"),
        ("get", f"/api/sessions/{sid}/participants"),
        ("get", f"/api/workspaces/{ws}/document"),
    ]:
        status, body = await editor.call(method, path)
        assert status == 403, (path, body)
        assert body["error"]["code"] == "mfa_required", path
    # Still a member who may see the workspace itself (and leave it).
    assert (await editor.call("get", f"/api/workspaces/{ws}"))[0] == 200

    # Socket.IO: session:join answers the error; the document namespace is refused.
    sio = await _socket(client, editor)
    try:
        answer = await sio.call("session:join", {"session_id": sid}, timeout=5)
    finally:
        await sio.disconnect()
    assert answer["ok"] is False and answer["error"]["code"] == "mfa_required"
    assert await _document_refusal(client, editor, namespace) == [{"message": "mfa_required"}]

    # The owner, with TOTP on, keeps working; and so does the member once TOTP is on.
    assert (await owner.call("get", f"/api/sessions/{sid}"))[0] == 200
    await enable_totp(client, editor.pair)
    assert (await editor.call("get", f"/api/sessions/{sid}"))[0] == 200
    assert (await editor.call("get", f"/api/workspaces/{ws}/document"))[0] == 200
    assert await _document_refusal(client, editor, namespace) == []
    sio = await _socket(client, editor)
    try:
        answer = await sio.call("session:join", {"session_id": sid}, timeout=5)
    finally:
        await sio.disconnect()
    assert answer["ok"] is True
