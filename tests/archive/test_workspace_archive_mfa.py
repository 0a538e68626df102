"""A workspace that requires two-factor login refuses its files to a member without
TOTP (403 `mfa_required`) on every route, the workspace's archive.zip included (it was
served to them whole)."""

from __future__ import annotations

from tests.archive.zip_support import import_zip, make_zip
from tests.mfa_support import enable_totp
from tests.support import Client
from tests.workspace_support import member, person, workspace


async def test_the_workspace_archive_is_refused_without_required_mfa(client: Client) -> None:
    owner = await person(client, "zipmfaowner")
    viewer = await person(client, "zipmfaviewer")
    ws = await workspace(owner)
    await member(owner, ws, viewer, "viewer")
    status, session = await owner.call(
        "post", "/api/sessions", {"name": "WS", "language": "python", "ws_id": ws}
    )
    assert status == 201, session
    headers = {"Authorization": f"Bearer {owner.pair['access_token']}"}
    status, _ = await import_zip(
        client, session["session_id"], headers, make_zip({"secret.py": "KEY = 1\n"})
    )
    assert status == 200

    path = f"/api/workspaces/{ws}/archive.zip"
    auth = {"Authorization": f"Bearer {viewer.pair['access_token']}"}
    response = await client.get(path, headers=auth)
    assert response.status == 200  # before the rule

    await enable_totp(client, owner.pair)
    status, _ = await owner.call("patch", f"/api/workspaces/{ws}", {"require_mfa": True})
    assert status == 200
    response = await client.get(path, headers=auth)
    body = await response.json() if response.content_type == "application/json" else None
    assert response.status == 403, (response.status, body)
    assert body is not None and body["error"]["code"] == "mfa_required", body
    # The owner (with TOTP) still downloads it.
    response = await client.get(path, headers=headers)
    assert response.status == 200
