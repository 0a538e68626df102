"""`{"status": null}` in a session PATCH was written as SQL NULL (a 500); a null
is ignored as it is for the other fields that cannot be null."""

from __future__ import annotations

from typing import Any

from tests.workspace_support import person


async def test_a_null_status_is_not_a_500(client: Any) -> None:
    ann = await person(client, "nullstatus")
    status, session = await ann.call("post", "/api/sessions", {"name": "s", "language": "py"})
    assert status == 201
    base = f"/api/sessions/{session['session_id']}"
    status, body = await ann.call("patch", base, {"status": None, "description": "d"})
    assert status == 200 and body["status"] == "active" and body["description"] == "d", body
    assert (await ann.call("patch", base, {"status": "archived"}))[0] == 200
    status, body = await ann.call("patch", base, {"status": None})
    assert status == 200 and body["status"] == "archived", body
