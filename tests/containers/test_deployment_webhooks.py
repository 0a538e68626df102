"""`deployment.status` webhooks: a workspace's registered receiver hears each status a
deployment of one of its sessions goes through, signed, with the session it belongs to; a
personal session's deployments tell no workspace."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.deploy_support import deploy, wait_status
from tests.live_support import LiveSession, Member
from tests.node_agent import NodeAgent
from tests.support import Client
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_webhooks import FAST, register
from tests.workspace_support import Person, person, workspace

APP = (
    "import http.server, os\n"
    "http.server.HTTPServer(('', int(os.environ['PORT'])),"
    " http.server.SimpleHTTPRequestHandler).serve_forever()\n"
)


async def _deploy_and_stop(
    client: Client, agent: NodeAgent, who: Person, session_id: str
) -> dict[str, Any]:
    """Write the app into the session, deploy it, wait for it to run, stop it."""
    owner = Member(who.email, who.pair)
    live = LiveSession(session_id, owner, owner, owner)
    url = str(client.make_url("")).rstrip("/")
    await agent.call("connect", name="w", url=url, room=live.room("main.py"), token=owner.token)
    await agent.call("insert", name="w", index=0, text=APP)
    await agent.call("close", name="w")
    await asyncio.sleep(0.3)
    started = await deploy(client, owner, live)
    await wait_status(client, owner, started["deployment_id"], "running")
    await client.post(f"/api/deployments/{started['deployment_id']}/stop", headers=owner.headers)
    await wait_status(client, owner, started["deployment_id"], "stopped")
    return started


async def test_a_workspace_hears_its_deployments_statuses(
    make_client: Any, runtime_images: str, engine: str, agent: NodeAgent, receiver: Receiver
) -> None:
    client: Client = await make_client(docker_host=runtime_images, deploy_engine=engine, **FAST)
    ann = await person(client, "dwann")
    ws = await workspace(ann)
    hook = await register(ann, ws, receiver.url, ["deployment.status"])
    status, session = await ann.call(
        "post", "/api/sessions", {"name": "deployed", "language": "python", "ws_id": ws}
    )
    assert status == 201, session
    started = await _deploy_and_stop(client, agent, ann, session["session_id"])
    deployment_id = started["deployment_id"]

    told = await receiver.wait_for("deployment.status", count=4)
    assert all(r.verified(hook["secret"]) for r in told)
    bodies = sorted((r.json for r in told), key=lambda body: body["created_at"])
    assert {b["workspace_id"] for b in bodies} == {ws}
    statuses = [b["data"]["status"] for b in bodies]
    assert statuses == ["starting", "running", "stopping", "stopped"]
    for body in bodies:
        assert body["data"]["deployment_id"] == deployment_id
        assert body["data"]["session_id"] == session["session_id"]
        assert body["data"]["deployment_url"] == started["deployment_url"]
    # The workspace's audit log holds the stop next to the start.
    status, log = await ann.call("get", f"/api/workspaces/{ws}/audit-logs")
    assert status == 200, log
    mine = [e["action"] for e in log["items"] if e["resource_id"] == deployment_id]
    assert sorted(mine) == ["deployment.started", "deployment.stopped"], log


async def test_a_personal_sessions_deployment_tells_no_workspace(
    make_client: Any, runtime_images: str, engine: str, agent: NodeAgent, receiver: Receiver
) -> None:
    client: Client = await make_client(docker_host=runtime_images, deploy_engine=engine, **FAST)
    ann = await person(client, "dwpersonal")
    ws = await workspace(ann)
    await register(ann, ws, receiver.url, ["deployment.status", "session.created"])
    status, session = await ann.call(
        "post", "/api/sessions", {"name": "mine", "language": "python"}
    )
    assert status == 201, session
    await _deploy_and_stop(client, agent, ann, session["session_id"])
    # A workspace session created afterwards is told: the queue works and is drained.
    status, _ = await ann.call(
        "post", "/api/sessions", {"name": "later", "language": "python", "ws_id": ws}
    )
    assert status == 201
    await receiver.wait_for("session.created")
    assert receiver.of("deployment.status") == []
