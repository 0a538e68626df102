"""What deployments ask of sessions (they no longer read the session tables): which sessions
are dynamic, where someone is present, who a preview's viewer is."""

from __future__ import annotations

import uuid

from collab.state import SESSIONS
from tests.accounts_support import register
from tests.live_support import LiveSession, Member
from tests.session_support import call, socket_for
from tests.support import Client


async def test_which_sessions_are_dynamic(client: Client, live: LiveSession) -> None:
    scopes = client.app[SESSIONS].scopes
    other = await call(client, live.owner, "post", "/api/sessions", {"name": "b", "language": "go"})
    session_id, other_id = uuid.UUID(live.session_id), uuid.UUID(other[1]["session_id"])
    assert await scopes.dynamic([session_id, other_id]) == set()
    body = {"is_dynamic": True}
    assert (await call(client, live.owner, "patch", f"/api/sessions/{other_id}", body))[0] == 200
    assert await scopes.dynamic([session_id, other_id, uuid.uuid4()]) == {other_id}
    assert await scopes.dynamic([session_id]) == set()
    assert await scopes.dynamic([]) == set()


async def test_where_someone_is_present(client: Client, live: LiveSession) -> None:
    scopes = client.app[SESSIONS].scopes
    session_id = uuid.UUID(live.session_id)
    assert await scopes.with_presence([session_id], 600) == set()  # nobody joined yet
    sio, _ = await socket_for(client, live.viewer)
    try:
        assert (await sio.call("session:join", {"session_id": live.session_id}))["ok"]
        assert await scopes.with_presence([session_id, uuid.uuid4()], 600) == {session_id}
        # Present, but not within a window that ended before they came.
        assert await scopes.with_presence([session_id], 0) == set()
        assert (await sio.call("session:leave", {"session_id": live.session_id}))["ok"]
        assert await scopes.with_presence([session_id], 600) == set()  # gone again
    finally:
        await sio.disconnect()


async def test_who_a_previews_viewer_is(client: Client, live: LiveSession) -> None:
    scopes = client.app[SESSIONS].scopes
    session_id = uuid.UUID(live.session_id)
    for member, role in [(live.owner, "owner"), (live.editor, "editor"), (live.viewer, "viewer")]:
        assert await scopes.viewer(session_id, uuid.UUID(member.user_id)) == (
            f"{member.name}@example.org",
            role,
        )
    stranger = Member("stranger", await register(client, "stranger"))
    assert await scopes.viewer(session_id, uuid.UUID(stranger.user_id)) == (
        "stranger@example.org",
        "viewer",
    )
    assert await scopes.viewer(session_id, uuid.uuid4()) is None
