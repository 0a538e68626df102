"""While a workspace requires two-factor login, a member without it reaches none of
its sessions over REST (docs/account-security-lifecycle-audit-admins.md): not by opening a
new one in it, nor by listing them through the workspace."""

from __future__ import annotations

from typing import Any

from tests.mfa_support import enable_totp
from tests.workspace_support import member, person, workspace


async def test_a_member_without_totp_neither_opens_nor_lists_its_sessions(client: Any) -> None:
    owner, editor = await person(client, "mfaowner"), await person(client, "mfaeditor")
    ws = await workspace(owner)
    await member(owner, ws, editor, "editor")
    status, session = await owner.call(
        "post", "/api/sessions", {"name": "secret plans", "language": "python", "ws_id": ws}
    )
    assert status == 201, session
    await enable_totp(client, owner.pair)
    assert (await owner.call("patch", f"/api/workspaces/{ws}", {"require_mfa": True}))[0] == 200

    status, body = await editor.call(
        "post", "/api/sessions", {"name": "mine", "language": "python", "ws_id": ws}
    )
    assert status == 403 and body["error"]["code"] == "mfa_required", body
    status, body = await editor.call("get", f"/api/workspaces/{ws}/sessions")
    assert status == 403 and body["error"]["code"] == "mfa_required", body
    # The owner, with TOTP on, still does both.
    assert (await owner.call("get", f"/api/workspaces/{ws}/sessions"))[0] == 200
    status, _ = await owner.call(
        "post", "/api/sessions", {"name": "more", "language": "python", "ws_id": ws}
    )
    assert status == 201
