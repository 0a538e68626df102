"""A webhook is where a workspace's events go, so registering, changing, testing and
deleting one are in the workspace's audit log (README: every state change is audited)."""

from __future__ import annotations

from typing import Any

from tests.workspace_support import person, workspace


async def test_webhook_changes_are_in_the_workspace_audit_log(make_client: Any) -> None:
    client = await make_client(webhook_allowed_hosts=("127.0.0.1",))
    ann = await person(client, "whaudit")
    ws = await workspace(ann)
    status, created = await ann.call(
        "post",
        f"/api/workspaces/{ws}/webhooks",
        {"url": "http://127.0.0.1:9/hook", "events": ["session.created"]},
    )
    assert status == 201, created
    hook = f"/api/workspaces/{ws}/webhooks/{created['webhook_id']}"
    changed = {"url": "http://127.0.0.1:10/hook", "events": ["file.changed"]}
    assert (await ann.call("patch", hook, changed))[0] == 200
    assert (await ann.call("post", hook + "/test"))[0] == 202
    assert (await ann.call("delete", hook))[0] == 204

    status, page = await ann.call("get", f"/api/workspaces/{ws}/audit-logs")
    assert status == 200, page
    entries = [e for e in page["items"] if e["resource_type"] == "webhook"]
    assert [e["action"] for e in entries] == [
        "webhook.deleted",
        "webhook.tested",
        "webhook.updated",
        "webhook.created",
    ]
    assert all(e["resource_id"] == created["webhook_id"] for e in entries)
    assert all(e["user_id"] == ann.id and e["ws_id"] == ws for e in entries)
    made, updated = entries[3], entries[2]
    assert made["new_value"]["url"] == "http://127.0.0.1:9/hook"
    assert updated["old_value"]["url"] == "http://127.0.0.1:9/hook"
    assert updated["new_value"] == changed
    assert entries[0]["old_value"]["url"] == "http://127.0.0.1:10/hook"
    # The signing secret is never written to the log.
    assert created["secret"] not in str(page)
