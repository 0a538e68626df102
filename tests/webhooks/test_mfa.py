"""A workspace that requires two-factor login refuses its sessions, documents,
archive and git to a member without it; its webhooks (which carry its sessions and its
files' paths to any URL) are refused to an admin without it too."""

from __future__ import annotations

from typing import Any

from tests.mfa_support import enable_totp
from tests.workspace_support import member, person, workspace


async def test_an_admin_without_totp_cannot_manage_webhooks(make_client: Any) -> None:
    client = await make_client(webhook_allowed_hosts=("127.0.0.1",))
    owner, admin = await person(client, "whmfaowner"), await person(client, "whmfaadmin")
    ws = await workspace(owner)
    await member(owner, ws, admin, "admin")
    hooks = f"/api/workspaces/{ws}/webhooks"
    body = {"url": "http://127.0.0.1:9/hook", "events": ["session.created", "file.changed"]}
    status, made = await admin.call("post", hooks, body)
    assert status == 201, made
    await enable_totp(client, owner.pair)
    assert (await owner.call("patch", f"/api/workspaces/{ws}", {"require_mfa": True}))[0] == 200

    hook = f"{hooks}/{made['webhook_id']}"
    for method, path, sent in [
        ("post", hooks, body),
        ("get", hooks, None),
        ("get", hook, None),
        ("patch", hook, {"url": "http://127.0.0.1:10/hook"}),
        ("post", f"{hook}/test", None),
        ("get", f"{hook}/deliveries", None),
        ("delete", hook, None),
    ]:
        status, answer = await admin.call(method, path, sent)
        assert status == 403 and answer["error"]["code"] == "mfa_required", (method, path, answer)
    status, listed = await owner.call("get", hooks)
    assert status == 200 and [h["url"] for h in listed] == [body["url"]]
