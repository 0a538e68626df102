"""The per-user quota counts sessions that are not archived; setting an archived one
active again must respect it too, or archive, create, unarchive repeats without end."""

from __future__ import annotations

from typing import Any

from tests.workspace_support import person


async def test_unarchiving_cannot_go_past_the_quota(make_client: Any) -> None:
    client = await make_client(max_sessions_per_user=2)
    ann = await person(client, "quotaann")
    made = []
    for name in ("a", "b"):
        status, session = await ann.call("post", "/api/sessions", {"name": name, "language": "py"})
        assert status == 201, session
        made.append(f"/api/sessions/{session['session_id']}")
    assert (await ann.call("patch", made[0], {"status": "archived"}))[0] == 200
    status, third = await ann.call("post", "/api/sessions", {"name": "c", "language": "py"})
    assert status == 201, third

    status, body = await ann.call("patch", made[0], {"status": "active"})
    assert status == 429 and body["error"]["code"] == "rate_limited", body
    _, listed = await ann.call("get", "/api/sessions")
    assert sum(s["status"] == "active" for s in listed) == 2
    # Archived, it still changes nothing else; with a free slot it comes back.
    assert (await ann.call("patch", made[1], {"status": "archived"}))[0] == 200
    status, body = await ann.call("patch", made[0], {"status": "active", "name": "back"})
    assert status == 200 and body["status"] == "active" and body["name"] == "back", body
