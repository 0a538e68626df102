"""Every addressed invitation (session or workspace) mails its address, with the
inviter's own words in it. Without a budget any account is an open mail relay: open a
session, then invite any address, as often as it likes."""

from __future__ import annotations

from typing import Any

from collab.http.session_routes import INVITATION_MAIL_LIMIT
from tests.workspace_support import person, workspace


async def test_mailed_session_invitations_have_a_budget(client: Any) -> None:
    ann = await person(client, "mailann")
    status, session = await ann.call("post", "/api/sessions", {"name": "s", "language": "py"})
    assert status == 201, session
    invitations = f"/api/sessions/{session['session_id']}/invitations"
    body = {"role": "viewer", "email": "target@example.com", "message": "buy now"}
    for _ in range(INVITATION_MAIL_LIMIT.max_hits):
        assert (await ann.call("post", invitations, body))[0] == 201
    status, refused = await ann.call("post", invitations, body)
    assert status == 429 and refused["error"]["code"] == "rate_limited", refused
    # A link addressed to nobody mails nobody: still made.
    assert (await ann.call("post", invitations, {"role": "viewer"}))[0] == 201
    # The budget is the account's, whatever it invites to: workspace invitations share it.
    ws = await workspace(ann)
    status, refused = await ann.call(
        "post", f"/api/workspaces/{ws}/invitations", {"email": "x@example.com", "role": "viewer"}
    )
    assert status == 429, refused
    # Someone else's budget is their own.
    bob = await person(client, "mailbob")
    ws = await workspace(bob)
    status, made = await bob.call(
        "post", f"/api/workspaces/{ws}/invitations", {"email": "x@example.com", "role": "viewer"}
    )
    assert status == 201, made


async def test_the_refusal_says_when_to_retry(client: Any) -> None:
    ann = await person(client, "mailcat")
    ws = await workspace(ann)
    answer = None
    for n in range(INVITATION_MAIL_LIMIT.max_hits + 1):
        answer = await client.post(
            f"/api/workspaces/{ws}/invitations",
            json={"email": f"p{n}@example.com", "role": "viewer"},
            headers={"Authorization": f"Bearer {ann.pair['access_token']}"},
        )
    assert answer is not None and answer.status == 429
    assert int(answer.headers["Retry-After"]) > 0
