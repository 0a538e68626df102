"""The shared terminal: a shell in a running deployment, typed in by editors, watched by all."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import docker
import pytest
import socketio

from containers.engine import LABEL_DEPLOYMENT
from tests.containers.conftest import ENGINES
from tests.deploy_support import deploy, session_with_files, wait_status
from tests.live_support import LiveSession, Member
from tests.node_agent import NodeAgent
from tests.session_support import socket_for
from tests.support import Client

TERMINAL_EVENTS = ("terminal:opened", "terminal:output", "terminal:closed", "terminal:resized")


async def watcher(
    client: Client, member: Member, live: LiveSession
) -> tuple[socketio.AsyncClient, list[tuple[str, Any]]]:
    """`member`'s socket, joined to the session, recording terminal events."""
    sio, events = await socket_for(client, member)
    for name in TERMINAL_EVENTS:
        sio.on(name, lambda data, name=name: events.append((name, data)))
    joined = await sio.call("session:join", {"session_id": live.session_id}, timeout=5)
    assert joined["ok"], joined
    return sio, events


def output_of(events: list[tuple[str, Any]], terminal_id: str) -> str:
    return "".join(
        d["data"] for e, d in events if e == "terminal:output" and d["terminal_id"] == terminal_id
    )


async def until(check: Any, timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not seen in time")


def closed(events: list[tuple[str, Any]], terminal_id: str) -> dict[str, Any] | None:
    found = [d for e, d in events if e == "terminal:closed" and d["terminal_id"] == terminal_id]
    return found[0] if found else None


async def running_site(client: Client, agent: NodeAgent) -> tuple[LiveSession, str]:
    live = await session_with_files(client, agent, "html", {"index.html": "<p>hi</p>"})
    started = await deploy(client, live.editor, live)
    did = str(started["deployment_id"])
    assert (await wait_status(client, live.editor, did, "running", "failed"))["status"] == (
        "running"
    )
    return live, did


def shells(docker_host: str, deployment_id: str) -> list[str]:
    """The command lines of the deployment's shells (`/bin/sh`) still running."""
    engine = docker.DockerClient(base_url=docker_host)
    try:
        [container] = engine.containers.list(
            filters={"label": f"{LABEL_DEPLOYMENT}={deployment_id}"}
        )
        return [p[-1] for p in container.top()["Processes"] if p[-1] == "/bin/sh"]
    finally:
        engine.close()


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
async def test_one_terminal_typed_by_an_editor_watched_by_a_viewer(
    client: Client, agent: NodeAgent, database_url: str, runtime_images: str
) -> None:
    live, did = await running_site(client, agent)
    editor, seen_by_editor = await watcher(client, live.editor, live)
    viewer, seen_by_viewer = await watcher(client, live.viewer, live)
    outsider_member = Member("outsider", live.owner.pair)  # the owner, not joined
    outsider, _ = await socket_for(client, outsider_member)
    try:
        refused = await viewer.call("terminal:open", {"deployment_id": did}, timeout=5)
        assert refused["ok"] is False and refused["error"]["code"] == "forbidden", refused
        unjoined = await outsider.call("terminal:open", {"deployment_id": did}, timeout=5)
        assert unjoined["error"]["code"] == "not_found", unjoined

        opened = await editor.call("terminal:open", {"deployment_id": did}, timeout=10)
        assert opened["ok"], opened
        tid = opened["terminal_id"]
        for events in (seen_by_editor, seen_by_viewer):
            await until(lambda events=events: any(e == "terminal:opened" for e, _ in events))
        announced = next(d for e, d in seen_by_viewer if e == "terminal:opened")
        assert announced["deployment_id"] == did and announced["opened_by"] == live.editor.user_id

        # The command line is echoed back; only its result is `hi` on a line of its own.
        typed = await editor.call(
            "terminal:input", {"terminal_id": tid, "data": 'echo "h""i"\n'}, timeout=5
        )
        assert typed == {"ok": True}
        for events in (seen_by_editor, seen_by_viewer):
            await until(lambda events=events: "\r\nhi\r\n" in output_of(events, tid))
        await editor.call("terminal:input", {"terminal_id": tid, "data": "id -u\n"}, timeout=5)
        await until(lambda: "\r\n65534\r\n" in output_of(seen_by_viewer, tid))

        # The viewer may watch but not type, resize or close.
        for event, body in (
            ("terminal:input", {"terminal_id": tid, "data": "echo no\n"}),
            ("terminal:resize", {"terminal_id": tid, "cols": 100, "rows": 30}),
            ("terminal:close", {"terminal_id": tid}),
        ):
            answer = await viewer.call(event, body, timeout=5)
            assert answer["error"]["code"] == "forbidden", (event, answer)
        unjoined = await outsider.call(
            "terminal:input", {"terminal_id": tid, "data": "x"}, timeout=5
        )
        assert unjoined["error"]["code"] == "not_found"

        resized = await editor.call(
            "terminal:resize", {"terminal_id": tid, "cols": 100, "rows": 30}, timeout=5
        )
        assert resized == {"ok": True}
        await editor.call("terminal:input", {"terminal_id": tid, "data": "stty size\n"}, timeout=5)
        await until(lambda: "\r\n30 100\r\n" in output_of(seen_by_viewer, tid))
        assert ("terminal:resized", {"terminal_id": tid, "cols": 100, "rows": 30}) in (
            seen_by_viewer
        )
        listed = await viewer.call("terminal:list", {"session_id": live.session_id}, timeout=5)
        assert [t["terminal_id"] for t in listed["terminals"]] == [tid]

        # Closing ends the shell and whatever it started.
        await editor.call("terminal:input", {"terminal_id": tid, "data": "sleep 300 &\n"})
        assert len(shells(runtime_images, did)) == 1
        assert (await editor.call("terminal:close", {"terminal_id": tid}, timeout=10))["ok"]
        await until(lambda: closed(seen_by_viewer, tid) is not None)
        assert closed(seen_by_viewer, tid) == {
            "terminal_id": tid,
            "deployment_id": did,
            "reason": "closed",
        }
        engine = docker.DockerClient(base_url=runtime_images)
        [container] = engine.containers.list(filters={"label": f"{LABEL_DEPLOYMENT}={did}"})
        left = [p[-1] for p in container.top()["Processes"]]
        engine.close()
        assert not any("sleep" in cmd or cmd == "/bin/sh" for cmd in left), left
        gone = await editor.call("terminal:input", {"terminal_id": tid, "data": "x"}, timeout=5)
        assert gone["error"]["code"] == "not_found"
    finally:
        for sio in (editor, viewer, outsider):
            await sio.disconnect()

    conn = await asyncpg.connect(database_url)
    try:
        audited = await conn.fetch(
            "SELECT user_id::text, resource_id, metadata FROM audit_logs "
            "WHERE action = 'terminal.opened'"
        )
    finally:
        await conn.close()
    [entry] = audited
    metadata = entry["metadata"]
    metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
    assert entry["user_id"] == live.editor.user_id and entry["resource_id"] == tid
    assert metadata["deployment_id"] == did


async def test_limits_and_closing_with_the_deployment(
    client: Client, agent: NodeAgent, runtime_images: str
) -> None:
    live, did = await running_site(client, agent)
    editor, seen = await watcher(client, live.editor, live)
    owner, _ = await watcher(client, live.owner, live)
    try:
        ids = []
        for sio in (editor, owner, editor):
            opened = await sio.call("terminal:open", {"deployment_id": did}, timeout=10)
            assert opened["ok"], opened
            ids.append(opened["terminal_id"])
        fourth = await owner.call("terminal:open", {"deployment_id": did}, timeout=10)
        assert fourth["error"]["code"] == "rate_limited"
        assert fourth["error"]["details"] == {"limit": 3}
        assert len(shells(runtime_images, did)) == 3

        big = await editor.call(
            "terminal:input", {"terminal_id": ids[0], "data": "x" * 4097}, timeout=5
        )
        assert big["error"]["code"] == "too_large", big
        # 64 KiB at once, then 32 KiB a second: a flood is refused, with when to retry.
        answers = [
            await editor.call(
                "terminal:input", {"terminal_id": ids[1], "data": " " * 4096}, timeout=5
            )
            for _ in range(24)
        ]
        assert answers[0] == {"ok": True}
        limited = [a for a in answers if not a["ok"]]
        assert limited and limited[0]["error"]["code"] == "rate_limited"
        assert limited[0]["error"]["details"]["retry_after"] > 0
        # The other socket has its own allowance.
        other = await owner.call(
            "terminal:input", {"terminal_id": ids[0], "data": "echo $((6*7))\n"}, timeout=5
        )
        assert other == {"ok": True}
        await until(lambda: "\r\n42\r\n" in output_of(seen, ids[0]))

        stopped = await client.post(f"/api/deployments/{did}/stop", headers=live.editor.headers)
        assert stopped.status == 202
        for tid in ids:
            await until(lambda tid=tid: closed(seen, tid) is not None, timeout=15)
            assert closed(seen, tid) == {
                "terminal_id": tid,
                "deployment_id": did,
                "reason": "deployment stopped",
            }
        after = await editor.call("terminal:open", {"deployment_id": did}, timeout=5)
        assert after["error"]["code"] == "conflict"
    finally:
        await editor.disconnect()
        await owner.disconnect()


async def test_input_reaches_a_terminal_held_by_another_process(
    client: Client, make_client: Any, agent: NodeAgent, runtime_images: str
) -> None:
    """Two server processes on one database and Redis: a terminal opened on the first is
    typed in from the second, and its output reaches the sockets of both."""
    live, did = await running_site(client, agent)
    other_app = await make_client(docker_host=runtime_images)
    first, seen_first = await watcher(client, live.editor, live)
    second, seen_second = await watcher(other_app, live.owner, live)
    try:
        opened = await first.call("terminal:open", {"deployment_id": did}, timeout=10)
        tid = opened["terminal_id"]
        await until(lambda: any(e == "terminal:opened" for e, _ in seen_second))
        typed = await second.call(
            "terminal:input", {"terminal_id": tid, "data": "echo $((20+22))\n"}, timeout=5
        )
        assert typed == {"ok": True}
        for events in (seen_first, seen_second):
            await until(lambda events=events: "\r\n42\r\n" in output_of(events, tid))
        assert (await second.call("terminal:close", {"terminal_id": tid}, timeout=10))["ok"]
        await until(lambda: closed(seen_first, tid) is not None)
    finally:
        await first.disconnect()
        await second.disconnect()
