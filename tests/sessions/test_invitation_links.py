"""Join links as a browser meets them: the page URL, the look-up before accepting (no login),
declining, the mail an addressed link is sent in, and why a dead link is dead (410)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import asyncpg

from collab.state import SESSIONS, SETTINGS
from tests.accounts_support import outbox, register
from tests.live_support import LiveSession, Member, live_session
from tests.session_support import call
from tests.support import Client
from tests.workspace_support import member, person, workspace


async def anonymous(client: Client, method: str, path: str) -> tuple[int, Any]:
    response = await getattr(client, method)(path)
    return response.status, await response.json()


async def invite(client: Client, live: LiveSession, **fields: Any) -> dict[str, Any]:
    status, invitation = await call(
        client,
        live.owner,
        "post",
        f"/api/sessions/{live.session_id}/invitations",
        {"role": "editor"} | fields,
    )
    assert status == 201, invitation
    return dict(invitation)


async def name_owner(client: Client, live: LiveSession) -> None:
    body = {"first_name": "Olive", "last_name": "Oak"}
    assert (await call(client, live.owner, "patch", "/api/auth/me", body))[0] == 200


def needs_wiring(client: Client) -> None:
    """Mails and front-end links need collab/app.py to pass the mailer and the links base."""
    assert client.app[SESSIONS].mails_invitations


async def test_the_link_is_a_page_and_its_look_up_needs_no_login(client: Client) -> None:
    live = await live_session(client)
    await name_owner(client, live)
    invitation = await invite(
        client, live, email="guest@example.org", message="pair with me", role="viewer"
    )
    token = invitation["token"]
    assert invitation["join_url"] == f"{client.app[SETTINGS].links_base_url}/join/{token}"
    status, shown = await anonymous(client, "get", f"/api/join/{token}")  # GET was 405 before
    assert status == 200, shown
    assert set(shown) == {
        "session",
        "role",
        "invited_by",
        "expires_at",
        "message",
        "email_bound",
    }
    assert shown["session"] == {
        "session_id": live.session_id,
        "name": "Pairing",
        "language": "python",
        "status": "active",
    }
    assert (shown["role"], shown["message"], shown["email_bound"]) == (
        "viewer",
        "pair with me",
        True,
    )
    assert shown["invited_by"]["user_id"] == live.owner.user_id
    assert shown["invited_by"]["username"] == "owner"
    assert shown["invited_by"]["display_name"] == "Olive Oak"
    assert shown["expires_at"] == invitation["expires_at"]
    assert "guest@example.org" not in str(shown)  # never the address it is bound to

    link = await invite(client, live)
    status, shown = await anonymous(client, "get", f"/api/join/{link['token']}")
    assert (status, shown["email_bound"], shown["message"]) == (200, False, None)
    status, body = await anonymous(client, "get", "/api/join/no-such-token")
    assert (status, body["error"]["code"]) == (404, "not_found")


async def test_a_dead_link_says_why_on_the_look_up_and_the_join(
    client: Client, db: asyncpg.Connection
) -> None:
    live = await live_session(client)
    guest = Member("guest", await register(client, "guest"))
    used, revoked, expired = [await invite(client, live) for _ in range(3)]
    assert (await call(client, guest, "post", f"/api/join/{used['token']}"))[0] == 200
    status, _ = await call(
        client,
        live.owner,
        "delete",
        f"/api/sessions/{live.session_id}/invitations/{revoked['invitation_id']}",
    )
    assert status == 204
    await db.execute(
        "UPDATE session_invitations SET expires_at = now() - interval '1 second' "
        "WHERE invitation_id = $1",
        expired["invitation_id"],
    )
    other = Member("other", await register(client, "other"))
    for link, words in [(used, "used"), (revoked, "revoked"), (expired, "expired")]:
        for method, who in [("get", None), ("post", other)]:
            if who is None:
                status, body = await anonymous(client, method, f"/api/join/{link['token']}")
            else:
                status, body = await call(client, who, method, f"/api/join/{link['token']}")
            assert (status, body["error"]["code"]) == (410, "gone"), (words, method)
            assert words in body["error"]["message"], (words, method, body)


async def test_a_link_whose_maker_may_no_longer_grant_it_is_gone(
    client: Client, db: asyncpg.Connection
) -> None:
    olive, adam = await person(client, "olive"), await person(client, "adam")
    ws = await workspace(olive)
    await member(olive, ws, adam, "admin")
    status, session = await adam.call(
        "post", "/api/sessions", {"name": "team", "language": "python", "ws_id": ws}
    )
    assert status == 201
    links = []
    for _ in range(2):
        status, link = await adam.call(
            "post", f"/api/sessions/{session['session_id']}/invitations", {"role": "editor"}
        )
        assert status == 201
        assert (await anonymous(client, "get", f"/api/join/{link['token']}"))[0] == 200
        links.append(link)
    # Adam's role changing behind the service's back: the look-up asks anew all the same.
    await db.execute(
        "UPDATE workspace_permissions SET role = 'editor' WHERE user_id = $1", uuid.UUID(adam.id)
    )
    status, body = await anonymous(client, "get", f"/api/join/{links[0]['token']}")
    assert (status, body["error"]["code"]) == (410, "gone")
    assert "may no longer grant" in body["error"]["message"]
    # Demoted through the API, his links are revoked at once.
    await db.execute(
        "UPDATE workspace_permissions SET role = 'admin' WHERE user_id = $1", uuid.UUID(adam.id)
    )
    assert (await anonymous(client, "get", f"/api/join/{links[1]['token']}"))[0] == 200
    status, _ = await olive.call(
        "put", f"/api/workspaces/{ws}/members/{adam.id}", {"role": "editor"}
    )
    assert status == 200
    status, body = await anonymous(client, "get", f"/api/join/{links[1]['token']}")
    assert (status, body["error"]["message"]) == (410, "This invitation was revoked.")


async def test_declining_an_addressed_link_spends_it_for_its_addressee_only(
    client: Client, db: asyncpg.Connection
) -> None:
    live = await live_session(client)
    invitation = await invite(client, live, email="dora@example.org")
    path = f"/api/join/{invitation['token']}/decline"
    assert (await anonymous(client, "post", path))[0] == 401
    mallory = Member("mallory", await register(client, "mallory"))
    status, body = await call(client, mallory, "post", path)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert (await anonymous(client, "get", f"/api/join/{invitation['token']}"))[0] == 200

    dora = Member("dora", await register(client, "dora"))
    assert (await call(client, dora, "post", path)) == (204, None)
    for who in (None, dora):
        if who is None:
            status, body = await anonymous(client, "get", f"/api/join/{invitation['token']}")
        else:
            status, body = await call(client, who, "post", f"/api/join/{invitation['token']}")
        assert (status, body["error"]["message"]) == (410, "This invitation was declined.")
    assert (await call(client, dora, "post", path))[0] == 410
    _, links = await call(client, live.owner, "get", f"/api/sessions/{live.session_id}/invitations")
    mine = next(i for i in links if i["invitation_id"] == invitation["invitation_id"])
    assert mine["status"] == "declined" and mine["responded_at"] is not None
    audited = await db.fetch(
        "SELECT user_id::text, new_value->>'spent' AS spent FROM audit_logs "
        "WHERE action = 'session_invitation.declined' ORDER BY log_id"
    )
    assert [(r["user_id"], r["spent"]) for r in audited] == [(dora.user_id, "true")]


async def test_declining_a_link_for_anyone_leaves_it_for_the_others(
    client: Client, db: asyncpg.Connection
) -> None:
    live = await live_session(client)
    link = await invite(client, live)
    shy = Member("shy", await register(client, "shy"))
    assert await call(client, shy, "post", f"/api/join/{link['token']}/decline") == (204, None)
    keen = Member("keen", await register(client, "keen"))
    status, joined = await call(client, keen, "post", f"/api/join/{link['token']}")
    assert (status, joined["participant"]["role"]) == (200, "editor")
    assert (
        await db.fetchval(
            "SELECT count(*) FROM audit_logs WHERE action = 'session_invitation.declined' "
            "AND user_id = $1 AND new_value->>'spent' = 'false'",
            uuid.UUID(shy.user_id),
        )
        == 1
    )
    unknown = await call(client, shy, "post", "/api/join/nope/decline")
    assert (unknown[0], unknown[1]["error"]["code"]) == (404, "not_found")


async def test_look_ups_are_limited_per_client(client: Client) -> None:
    for _ in range(60):
        assert (await anonymous(client, "get", "/api/join/guess"))[0] == 404
    status, body = await anonymous(client, "get", "/api/join/guess")
    assert (status, body["error"]["code"]) == (429, "rate_limited")
    # The same budget covers workspace invitations: guessing either kind costs the same.
    status, body = await anonymous(client, "get", "/api/invitations/workspace/guess")
    assert status == 429


async def test_an_addressed_link_is_mailed(client: Client, tmp_path: Path) -> None:
    needs_wiring(client)
    live = await live_session(client)
    await name_owner(client, live)
    invitation = await invite(
        client, live, email="Guest@Example.org", role="viewer", message="line one\nline two"
    )
    await invite(client, live)  # a link for anyone is handed over by the inviter, not mailed
    mails = [m for m in await outbox(client, tmp_path) if "session" in m["subject"]]
    assert len(mails) == 1, mails
    mail = mails[0]
    inviter = "Olive Oak"
    assert mail["subject"] == f'{inviter} invited you to the session "Pairing"'
    assert mail["to"].lower() == "guest@example.org"
    body = mail["body"]
    assert f'{inviter} invited you to the live coding session "Pairing" as viewer.' in body
    assert "> line one\n> line two" in body
    assert f"\n{invitation['join_url']}\n" in body
    assert "/api/" not in body


async def test_links_point_at_the_front_end_when_one_is_configured(make_client: Any) -> None:
    client = await make_client(frontend_url="https://ide.example.org/")
    needs_wiring(client)
    live = await live_session(client)
    invitation = await invite(client, live)
    assert invitation["join_url"] == f"https://ide.example.org/join/{invitation['token']}"
    owner = await person(client, "wsowner")
    ws = await workspace(owner)
    status, ws_invitation = await owner.call(
        "post", f"/api/workspaces/{ws}/invitations", {"email": "x@example.org", "role": "viewer"}
    )
    assert status == 201
    assert ws_invitation["accept_url"] == (
        f"https://ide.example.org/invitations/{ws_invitation['token']}"
    )


async def test_an_archived_sessions_link_shows_so_and_may_still_be_declined(
    client: Client,
) -> None:
    live = await live_session(client)
    link = await invite(client, live)
    addressed = await invite(client, live, email="ana@example.org")
    base = f"/api/sessions/{live.session_id}"
    assert (await call(client, live.owner, "patch", base, {"status": "archived"}))[0] == 200
    status, shown = await anonymous(client, "get", f"/api/join/{link['token']}")
    assert (status, shown["session"]["status"]) == (200, "archived")
    guest = Member("guest", await register(client, "guest"))
    status, body = await call(client, guest, "post", f"/api/join/{link['token']}")
    assert (status, body["error"]["message"]) == (409, "The session is archived.")
    ana = Member("ana", await register(client, "ana"))
    assert await call(client, ana, "post", f"/api/join/{addressed['token']}/decline") == (204, None)
    status, body = await anonymous(client, "get", f"/api/join/{addressed['token']}")
    assert (status, body["error"]["message"]) == (410, "This invitation was declined.")
