"""Deliveries through the queue: events reach a loopback receiver signed, a failing receiver
is retried, a retry survives a restart, two workers never deliver one attempt twice, and an
endpoint failing past the retry window is disabled and its registrant mailed."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.accounts_support import outbox
from tests.node_agent import NodeAgent
from tests.support import Client
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_webhooks import FAST, register
from tests.workspace_support import Person, member, person, workspace


async def open_session(owner: Person, ws: str, name: str = "s") -> str:
    status, body = await owner.call(
        "post", "/api/sessions", {"name": name, "language": "python", "ws_id": ws}
    )
    assert status == 201, body
    return str(body["session_id"])


async def deliveries(owner: Person, ws: str, webhook_id: str) -> list[dict[str, Any]]:
    status, page = await owner.call("get", f"/api/workspaces/{ws}/webhooks/{webhook_id}/deliveries")
    assert status == 200, page
    return list(page["items"])


async def test_events_arrive_signed_with_the_contract_body(
    make_client: Any, receiver: Receiver
) -> None:
    client: Client = await make_client(**FAST)
    ann, bob = await person(client, "dlann"), await person(client, "dlbob")
    ws = await workspace(ann)
    events = ["session.created", "session.archived", "member.added", "member.removed"]
    hook = await register(ann, ws, receiver.url, events)
    session_id = await open_session(ann, ws)
    [created] = await receiver.wait_for("session.created")
    assert created.verified(hook["secret"])
    assert not created.verified("whsec_wrong")
    body = created.json
    assert set(body) == {"id", "event", "created_at", "workspace_id", "data"}
    assert body["workspace_id"] == ws and body["data"]["session_id"] == session_id
    assert created.headers["Collab-Delivery"] == body["id"]
    assert created.headers["Collab-Event"] == "session.created"
    await member(ann, ws, bob, "editor")
    [added] = await receiver.wait_for("member.added")
    assert added.json["data"] == {"user_id": bob.id, "role": "editor"}
    assert (await ann.call("put", f"/api/workspaces/{ws}/members/{bob.id}", {"role": "viewer"}))[
        0
    ] == 200
    assert (await ann.call("delete", f"/api/workspaces/{ws}/members/{bob.id}"))[0] == 204
    [removed] = await receiver.wait_for("member.removed")
    assert removed.json["data"]["user_id"] == bob.id
    assert len(receiver.of("member.added")) == 1  # a role change is not an addition
    status, _ = await ann.call("patch", f"/api/sessions/{session_id}", {"status": "archived"})
    assert status == 200
    await receiver.wait_for("session.archived")
    attempts = await deliveries(ann, ws, hook["webhook_id"])
    assert {a["status_code"] for a in attempts} == {200}
    assert all(a["delivery_status"] == "delivered" and a["duration_ms"] >= 0 for a in attempts)
    # The test route queues a webhook.test delivery.
    status, _ = await ann.call("post", f"/api/workspaces/{ws}/webhooks/{hook['webhook_id']}/test")
    assert status == 202
    await receiver.wait_for("webhook.test")


async def test_a_receiver_failing_twice_gets_the_third_attempt(
    make_client: Any, receiver: Receiver
) -> None:
    client: Client = await make_client(**FAST)
    ann = await person(client, "rtann")
    ws = await workspace(ann)
    hook = await register(ann, ws, receiver.url, ["session.created"])
    receiver.failures = [500, 503]
    await open_session(ann, ws)
    tries = await receiver.wait_for("session.created", 3)
    assert len({t.json["id"] for t in tries}) == 1  # the same delivery, retried
    assert all(t.verified(hook["secret"]) for t in tries)
    for _ in range(50):
        attempts = await deliveries(ann, ws, hook["webhook_id"])
        if len(attempts) == 3 and attempts[0]["delivery_status"] == "delivered":
            break
        await asyncio.sleep(0.1)
    assert [a["status_code"] for a in attempts] == [200, 503, 500]
    assert [a["attempt"] for a in attempts] == [3, 2, 1]


async def test_a_retry_survives_a_restart(make_client: Any, receiver: Receiver) -> None:
    slow = FAST | {"webhook_first_retry_seconds": 3.0}
    first: Client = await make_client(**slow)
    ann = await person(first, "rsann")
    ws = await workspace(ann)
    hook = await register(ann, ws, receiver.url, ["session.created"])
    receiver.failures = [500]
    await open_session(ann, ws)
    await receiver.wait_for("session.created")
    # The failed attempt is recorded once its answer is read: the process ends after that,
    # with the retry queued (ending it mid-attempt is the lease's case, not this one's).
    for _ in range(100):
        if [a["status_code"] for a in await deliveries(ann, ws, hook["webhook_id"])] == [500]:
            break
        await asyncio.sleep(0.05)
    await first.close()
    second: Client = await make_client(**slow)
    ann.client = second
    tries = await receiver.wait_for("session.created", 2, timeout=20)
    assert tries[0].json["id"] == tries[1].json["id"]
    # The attempt is recorded once the receiver's answer is read: poll for it.
    for _ in range(50):
        attempts = await deliveries(ann, ws, hook["webhook_id"])
        if len(attempts) == 2 and attempts[0]["status_code"] is not None:
            break
        await asyncio.sleep(0.1)
    assert [a["status_code"] for a in attempts] == [200, 500]


async def test_two_processes_never_deliver_one_attempt_twice(
    make_client: Any, receiver: Receiver
) -> None:
    one: Client = await make_client(**FAST)
    two: Client = await make_client(**FAST)
    ann = await person(one, "rcann")
    ws = await workspace(ann)
    await register(ann, ws, receiver.url, ["session.created"])
    await register(ann, ws, receiver.url, ["session.created"])
    for n in range(10):
        await open_session(ann, ws, f"s{n}")
    await receiver.wait_for("session.created", 20)
    await asyncio.sleep(1.0)  # anything delivered twice would have arrived by now
    ids = Counter(r.json["id"] for r in receiver.received)
    assert len(ids) == 20 and set(ids.values()) == {1}
    assert two is not one


async def test_an_endpoint_failing_past_the_window_is_disabled_and_its_owner_told(
    make_client: Any, receiver: Receiver, tmp_path: Path
) -> None:
    client: Client = await make_client(**(FAST | {"webhook_retry_hours": 1.5 / 3600}))
    ann = await person(client, "dsann")
    ws = await workspace(ann)
    hook = await register(ann, ws, receiver.url, ["session.created"])
    receiver.failures = [500] * 1000
    await open_session(ann, ws)
    deadline = time.monotonic() + 15
    while True:
        status, listed = await ann.call("get", f"/api/workspaces/{ws}/webhooks")
        if not listed[0]["enabled"]:
            break
        assert time.monotonic() < deadline, listed
        await asyncio.sleep(0.2)
    assert "failed" in listed[0]["disabled_reason"]
    attempts = await deliveries(ann, ws, hook["webhook_id"])
    assert len(attempts) >= 2 and attempts[0]["delivery_status"] == "failed"
    mails = [m for m in await outbox(client, tmp_path) if m["to"] == ann.email]
    assert any("disabled" in m["subject"] for m in mails)
    # Turned back on by its owner.
    path = f"/api/workspaces/{ws}/webhooks/{hook['webhook_id']}"
    status, body = await ann.call("patch", path, {"enabled": True})
    assert status == 200 and body["enabled"] and body["disabled_reason"] is None


async def test_file_changes_are_told_debounced_with_size_and_editors_never_the_text(
    make_client: Any, receiver: Receiver, agent: NodeAgent
) -> None:
    client: Client = await make_client(**FAST)
    ann = await person(client, "fcann")
    ws = await workspace(ann)
    hook = await register(ann, ws, receiver.url, ["file.changed"])
    session_id = await open_session(ann, ws)
    url = str(client.make_url("")).rstrip("/")
    await agent.call(
        "connect", name="fc", url=url, room=f"{session_id}/main.py", token=ann.pair["access_token"]
    )
    # A burst of edits within the debounce window: one delivery.
    for index, word in ((0, "print("), (6, "'secret"), (13, " text')")):
        await agent.call("insert", name="fc", index=index, text=word)
    [changed] = await receiver.wait_for("file.changed")
    await asyncio.sleep(1.5)  # past the window: nothing more for that burst
    assert len(receiver.of("file.changed")) == 1
    assert changed.verified(hook["secret"])
    data = changed.json["data"]
    assert data["path"] == "main.py"
    assert data["size"] == len("print('secret text')")
    assert data["editors"] == [ann.id]
    assert "secret" not in changed.body.decode()
    await agent.call("close", name="fc")


async def test_people_joining_and_leaving_a_session_are_told(
    make_client: Any, receiver: Receiver
) -> None:
    client: Client = await make_client(**FAST)
    ann, cyd = await person(client, "pjann"), await person(client, "pjcyd")
    ws = await workspace(ann)
    await register(ann, ws, receiver.url, ["participant.joined", "participant.left"])
    session_id = await open_session(ann, ws)
    status, link = await ann.call(
        "post", f"/api/sessions/{session_id}/invitations", {"role": "editor"}
    )
    assert status == 201, link
    status, joined = await cyd.call("post", f"/api/join/{link['token']}")
    assert status == 200, joined
    [arrived] = await receiver.wait_for("participant.joined")
    data = arrived.json["data"]
    assert data["session_id"] == session_id and data["user"]["user_id"] == cyd.id
    status, _ = await ann.call(
        "delete",
        f"/api/sessions/{session_id}/participants/{joined['participant']['participant_id']}",
    )
    assert status == 204
    [left] = await receiver.wait_for("participant.left")
    assert left.json["data"]["user_id"] == cyd.id
