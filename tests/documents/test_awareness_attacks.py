"""Awareness (cursors, names) as an attacker sends it: poison, impersonation, floods of ids."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from collab.documents import awareness
from collab.documents.awareness import AwarenessEntry, MalformedAwareness
from collab.documents.room import MAX_CLIENTS_PER_SOCKET, DocumentRoom, Member, TokenBucket
from collab.model import DocumentKey, SessionRole
from tests.live_support import LiveSession
from tests.node_agent import NodeAgent
from tests.support import Client


def url(client: Client) -> str:
    return str(client.make_url("")).rstrip("/")


async def connect(agent: NodeAgent, client: Client, name: str, token: str, room: str) -> int:
    result = await agent.call("connect", name=name, url=url(client), room=room, token=token)
    assert result["synced"], result
    return int(result["clientId"])


async def raw(agent: NodeAgent, client: Client, live: LiveSession, token: str) -> None:
    namespace = f"/yjs|{live.room()}"
    result = await agent.call(
        "rawConnect", name="raw", url=url(client), namespace=namespace, token=token
    )
    assert result["connected"]


async def send(agent: NodeAgent, entries: list[AwarenessEntry]) -> list[dict[str, Any]]:
    result = await agent.call(
        "rawEmit", name="raw", event="awareness-update", bytes=list(awareness.encode(entries))
    )
    assert result["connected"]
    errors: list[dict[str, Any]] = result["syncErrors"]
    return errors


async def peers_settle(agent: NodeAgent, name: str, expected: int) -> list[dict[str, Any]]:
    for _ in range(60):
        peers: list[dict[str, Any]] = await agent.call("peers", name=name)
        if len(peers) >= expected:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # anything that should not arrive has had time to
    result: list[dict[str, Any]] = await agent.call("peers", name=name)
    return result


async def test_a_state_that_is_not_json_never_reaches_anyone(
    client: Client, live: LiveSession, agent: NodeAgent
) -> None:
    await raw(agent, client, live, live.viewer.token)
    for state in ("{not json", "[1, 2]", "42", '{"user": NaN}', '"x"', '{"c": 1e999}'):
        errors = await send(agent, [AwarenessEntry(4242, 1, state)])
        assert errors[-1]["code"] == "invalid_update", state
    # Someone joining later gets a working client (the npm client crashed on such states).
    await connect(agent, client, "late", live.editor.token, live.room())
    assert await agent.call("connected", name="late")
    assert await agent.call("peers", name="late") == []


async def test_an_oversized_state_is_refused(
    client: Client, live: LiveSession, agent: NodeAgent
) -> None:
    await raw(agent, client, live, live.viewer.token)
    big = json.dumps({"user": {"color": "x" * (awareness.MAX_STATE_BYTES + 1)}})
    errors = await send(agent, [AwarenessEntry(77, 1, big)])
    assert errors[-1]["code"] == "invalid_update"


async def test_a_socket_cannot_speak_for_someone_elses_client_id(
    client: Client, live: LiveSession, agent: NodeAgent
) -> None:
    ann = await connect(agent, client, "ann", live.editor.token, live.room())
    await connect(agent, client, "observer", live.owner.token, live.room())
    await agent.call("awareness", name="ann", state={"color": "#f00"})
    assert len(await peers_settle(agent, "observer", 1)) == 1

    await raw(agent, client, live, live.viewer.token)  # Mallory, a viewer
    forged = AwarenessEntry(ann, 10_000, json.dumps({"user": {"name": "Mallory", "color": "#0f0"}}))
    assert (await send(agent, [forged]))[-1]["code"] == "invalid_update"
    erase = AwarenessEntry(ann, 10_001, "null")
    assert (await send(agent, [erase]))[-1]["code"] == "invalid_update"

    peers = await peers_settle(agent, "observer", 1)
    assert peers == [{"color": "#f00", "id": live.editor.user_id, "name": "editor"}]


async def test_echoes_of_others_states_are_dropped_silently(
    client: Client, live: LiveSession, agent: NodeAgent
) -> None:
    """The npm provider sends back what it receives: no error, nothing relayed, while a
    newer state for the same id is still refused."""
    ann = await connect(agent, client, "ann", live.editor.token, live.room())
    await connect(agent, client, "observer", live.owner.token, live.room())
    await agent.call("awareness", name="ann", state={"color": "#f00"})
    assert len(await peers_settle(agent, "observer", 1)) == 1

    await raw(agent, client, live, live.viewer.token)
    stale = AwarenessEntry(ann, 0, json.dumps({"user": {"name": "Mallory"}}))
    assert await send(agent, [stale]) == []
    assert await send(agent, [AwarenessEntry(ann, 0, "null")]) == []
    # Echoes do not count towards the socket's client ids either.
    echoes = [AwarenessEntry(ann, 0, "{}")] * (2 * MAX_CLIENTS_PER_SOCKET)
    assert await send(agent, [*echoes, AwarenessEntry(5150, 1, "{}")]) == []
    newer = AwarenessEntry(ann, 10_000, "{}")
    assert (await send(agent, [newer]))[-1]["code"] == "invalid_update"
    peers = await peers_settle(agent, "observer", 2)
    assert {"color": "#f00", "id": live.editor.user_id, "name": "editor"} in peers
    assert len(peers) == 2  # ann's, and the raw socket's own id 5150


async def test_the_server_stamps_who_a_state_comes_from(
    client: Client, live: LiveSession, agent: NodeAgent
) -> None:
    await connect(agent, client, "viewer", live.viewer.token, live.room())
    await connect(agent, client, "observer", live.owner.token, live.room())
    await agent.call(
        "awareness", name="viewer", state={"name": "owner", "id": live.owner.user_id, "c": 1}
    )
    peers = await peers_settle(agent, "observer", 1)
    assert peers == [{"name": "viewer", "id": live.viewer.user_id, "c": 1}]


async def test_one_socket_cannot_announce_unbounded_client_ids(
    client: Client, live: LiveSession, agent: NodeAgent
) -> None:
    await raw(agent, client, live, live.editor.token)
    many = [AwarenessEntry(1000 + i, 1, "{}") for i in range(50)]
    assert (await send(agent, many))[-1]["code"] == "invalid_update"
    await connect(agent, client, "observer", live.owner.token, live.room())
    assert await peers_settle(agent, "observer", 0) == []


# -- the pure rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "[]",
        "1",
        "true",
        '"s"',
        "NaN",
        '{"a": Infinity}',
        '{"a": -1e999}',  # overflows to -inf: json.dumps would relay `-Infinity`
        "[" * 100_000,  # refused by size
        "[" * 8_000,  # within the size: refused by depth (RecursionError), not a crash
    ],
)
def test_only_json_objects_and_null_are_states(text: str) -> None:
    with pytest.raises(MalformedAwareness):
        awareness.parse_state(text)


def test_stamping_replaces_identity_and_keeps_the_rest() -> None:
    state = awareness.parse_state('{"user": {"name": "Eve", "id": "x", "color": "#123"}, "k": 1}')
    assert state is not None
    stamped = json.loads(awareness.stamp(state, "u-1", "alice"))
    assert stamped == {"user": {"name": "alice", "id": "u-1", "color": "#123"}, "k": 1}
    assert awareness.parse_state("null") is None
    lone = awareness.stamp({"s": "\ud800"}, "u", "n")  # a lone surrogate stays escaped
    assert lone.isascii() and awareness.stamped_user(lone) == "u"


def _room_member(room: DocumentRoom, sid: str) -> Member:
    member = Member(
        sid, f"eio-{sid}", f"/yjs|{room.key.path}", uuid.uuid4(), uuid.uuid4(), sid,
        SessionRole.EDITOR, TokenBucket(1000, 1000), TokenBucket(1e9, 1e9),
    )  # fmt: skip
    room.add(member)
    return member


def test_a_departed_clients_removal_echoed_back_is_dropped_not_refused() -> None:
    """When someone leaves, every npm client sends the removal back; the room no longer
    holds that client id, yet the echoes must neither be relayed nor count against the
    echoing socket's client ids (at 200 editors leaving they were refused by the dozen)."""
    room = DocumentRoom(DocumentKey(uuid.uuid4(), "a.py"), [])
    leaver, stayer = _room_member(room, "leaver"), _room_member(room, "stayer")
    for client_id in range(1, MAX_CLIENTS_PER_SOCKET + 1):
        room.accept_awareness(awareness.encode([AwarenessEntry(client_id, 3, "{}")]), leaver)
    room.remove(leaver.sid)
    echoes = [AwarenessEntry(cid, 3, "null") for cid in range(1, MAX_CLIENTS_PER_SOCKET + 1)]
    assert room.accept_awareness(awareness.encode(echoes), stayer) is None
    assert stayer.client_clocks == {}
    # A departed id that comes back with a newer state is a real announcement.
    relayed = room.accept_awareness(awareness.encode([AwarenessEntry(1, 4, "{}")]), stayer)
    assert relayed is not None and stayer.client_clocks == {1: 4}
