"""Deployments on a real Docker Engine, previewed through the proxy."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import docker
import pytest

from containers.engine import LABEL_CLUSTER, LABEL_DEPLOYMENT
from tests.containers.conftest import ENGINES
from tests.deploy_support import browser, deploy, preview_origin, session_with_files, wait_status
from tests.live_support import LiveSession
from tests.node_agent import NodeAgent
from tests.support import Client


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
async def test_deploy_preview_stop_and_archive(
    client: Client, agent: NodeAgent, database_url: str, runtime_images: str
) -> None:
    live = await session_with_files(
        client, agent, "html", {"index.html": "<h1>It works</h1>", "about.html": "about"}
    )
    started = await deploy(client, live.editor, live)
    did = started["deployment_id"]
    running = await wait_status(client, live.editor, did, "running", "failed")
    assert running["status"] == "running", running
    listed = await (
        await client.get(
            f"/api/sessions/{live.session_id}/deployments", headers=live.viewer.headers
        )
    ).json()
    assert [d["deployment_id"] for d in listed] == [did]

    preview = started["deployment_url"]
    assert all(d["deployment_url"] == preview for d in [running, *listed])
    async with browser() as anonymous:
        assert (await anonymous.get(preview)).status == 401  # private by default
    async with browser(cookies=True) as visitor:
        # The token is traded for a cookie of the preview's origin, and the page is shown.
        page = await visitor.get(f"{preview}?token={live.viewer.token}")
        assert page.status == 200 and await page.text() == "<h1>It works</h1>"
        assert str(page.url) == preview
        other = await visitor.get(f"{preview}about.html")
        assert await other.text() == "about"
        [cookie] = visitor.cookie_jar

    logs = await client.get(f"/api/deployments/{did}/logs?tail=5", headers=live.viewer.headers)
    assert logs.status == 200 and "text/plain" in logs.headers["Content-Type"]

    stopped = await client.post(f"/api/deployments/{did}/stop", headers=live.editor.headers)
    assert stopped.status == 202
    assert (await wait_status(client, live.editor, did, "stopped"))[
        "reason"
    ] == "stopped on request"
    past = await (
        await client.get(
            f"/api/sessions/{live.session_id}/past-deployments", headers=live.viewer.headers
        )
    ).json()
    assert [(p["deployment_id"], p["reason_for_stop"], p["deployment_url"]) for p in past] == [
        (did, "stopped on request", preview)
    ]
    assert past[0]["total_runtime_minutes"] >= 0 and past[0]["started_at"]
    engine = docker.DockerClient(base_url=runtime_images)
    assert not engine.containers.list(all=True, filters={"label": f"{LABEL_DEPLOYMENT}={did}"})
    engine.close()
    conn = await asyncpg.connect(database_url)
    try:
        viewers = await conn.fetch("SELECT user_id::text, role FROM deployment_participants")
    finally:
        await conn.close()
    assert [(v["user_id"], v["role"]) for v in viewers] == [(live.viewer.user_id, "viewer")]
    async with browser() as visitor:
        gone = await visitor.get(preview, headers={"Cookie": f"collab_preview={cookie.value}"})
        assert gone.status == 503


async def test_public_previews_are_open(client: Client, agent: NodeAgent) -> None:
    live = await session_with_files(client, agent, "html", {"index.html": "public page"}, "p")
    started = await deploy(client, live.owner, live, public=True)
    await wait_status(client, live.owner, started["deployment_id"], "running")
    async with browser() as visitor, visitor.get(started["deployment_url"]) as page:
        assert page.status == 200 and await page.text() == "public page"
    await client.post(
        f"/api/deployments/{started['deployment_id']}/stop", headers=live.owner.headers
    )


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
async def test_a_crashing_app_ends_failed_with_its_reason(client: Client, agent: NodeAgent) -> None:
    live = await session_with_files(
        client, agent, "python", {"main.py": "raise SystemExit('boom: missing config')"}, "c"
    )
    started = await deploy(client, live.owner, live)
    failed = await wait_status(client, live.owner, started["deployment_id"], "failed")
    assert "exited with code 1" in failed["reason"] and "boom" in failed["reason"]
    past = await (
        await client.get(
            f"/api/sessions/{live.session_id}/past-deployments", headers=live.owner.headers
        )
    ).json()
    assert "boom" in past[0]["reason_for_stop"]


async def test_who_may_deploy(client: Client, agent: NodeAgent) -> None:
    live = await session_with_files(client, agent, "cobol", {}, "w")
    unknown = await client.post(
        f"/api/sessions/{live.session_id}/deployments", json={}, headers=live.owner.headers
    )
    assert unknown.status == 422
    assert "html" in (await unknown.json())["error"]["details"]["language"]
    viewer = await client.post(
        f"/api/sessions/{live.session_id}/deployments", json={}, headers=live.viewer.headers
    )
    assert viewer.status == 403
    bad = await client.post(
        f"/api/sessions/{live.session_id}/deployments", data=b"{", headers=live.owner.headers
    )
    assert bad.status == 400
    assert (
        await client.get("/api/deployments/not-a-uuid", headers=live.owner.headers)
    ).status == 404


async def test_a_deploy_body_is_read_as_strictly_as_any_other(
    client: Client, live: LiveSession
) -> None:
    """No body means the defaults; a body goes through the strict reader every JSON route
    uses: hostile JSON is a 400, never a 500 (deep nesting) or a half-read value (NaN)."""
    url = f"/api/sessions/{live.session_id}/deployments"
    headers = {**live.owner.headers, "Content-Type": "application/json"}
    for body in (b'{"public": NaN}', b'{"public": -Infinity}', b"[" * 1_000_000, b"[]", b"  "):
        refused = await client.post(url, data=body, headers=headers)
        assert refused.status == 400, body[:20]
        assert (await refused.json())["error"]["code"] == "invalid_json", body[:20]
    started = await client.post(url, headers=live.owner.headers)
    assert started.status == 202, await started.text()
    did = (await started.json())["deployment_id"]
    shown = await client.get(f"/api/deployments/{did}", headers=live.owner.headers)
    assert (await shown.json())["public"] is False
    await client.post(f"/api/deployments/{did}/stop", headers=live.owner.headers)


async def test_concurrent_deploys_get_networks_of_their_own(
    make_client: Any, runtime_images: str, agent: NodeAgent, database_url: str
) -> None:
    client = await make_client(
        docker_host=runtime_images, deploy_max_per_user=50, deploy_max_per_session=50
    )
    live = await session_with_files(client, agent, "html", {"index.html": "x"}, "m")
    responses = await asyncio.gather(
        *(
            client.post(
                f"/api/sessions/{live.session_id}/deployments", json={}, headers=live.owner.headers
            )
            for _ in range(20)
        )
    )
    assert [r.status for r in responses] == [202] * 20
    ids = [(await r.json())["deployment_id"] for r in responses]
    for did in ids:
        assert (await wait_status(client, live.owner, did, "running", "failed"))[
            "status"
        ] == "running"
    conn = await asyncpg.connect(database_url)
    try:
        addresses = [r["address"] for r in await conn.fetch("SELECT address FROM deployments")]
    finally:
        await conn.close()
    assert len(set(addresses)) == 20  # each on a network of its own
    for did in ids:
        await client.post(f"/api/deployments/{did}/stop", headers=live.owner.headers)


async def test_quotas(make_client: Any, runtime_images: str, agent: NodeAgent) -> None:
    client = await make_client(docker_host=runtime_images, deploy_max_per_session=1)
    live = await session_with_files(client, agent, "html", {"index.html": "q"}, "q")
    first = await deploy(client, live.owner, live)
    second = await client.post(
        f"/api/sessions/{live.session_id}/deployments", json={}, headers=live.owner.headers
    )
    assert second.status == 429 and second.headers["Retry-After"]
    await wait_status(client, live.owner, first["deployment_id"], "running")
    await client.post(f"/api/deployments/{first['deployment_id']}/stop", headers=live.owner.headers)


async def test_no_docker_means_503_not_a_crash(
    make_client: Any, agent: NodeAgent, tmp_path: Any
) -> None:
    client = await make_client(docker_host=f"unix://{tmp_path}/nothing.sock")
    live = await session_with_files(client, agent, "html", {"index.html": "x"}, "n")
    response = await client.post(
        f"/api/sessions/{live.session_id}/deployments", json={}, headers=live.owner.headers
    )
    assert response.status == 503
    assert (await response.json())["error"]["code"] == "unavailable"


WS_ECHO = r"""
import base64, hashlib, os, socket, struct, threading
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
def recvn(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError
        data += chunk
    return data
def handle(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(4096)
    head = data.decode("latin1")
    if "upgrade: websocket" not in head.lower():
        prefix = [l.split(":", 1)[1].strip() for l in head.split("\r\n")
                  if l.lower().startswith("x-forwarded-prefix")]
        body = ("ok " + (prefix[0] if prefix else "-")).encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                     % len(body) + body)
        conn.close()
        return
    key = [l.split(":", 1)[1].strip() for l in head.split("\r\n")
           if l.lower().startswith("sec-websocket-key")][0]
    accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n" % accept).encode())
    while True:
        first, second = recvn(conn, 2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", recvn(conn, 2))[0]
        mask = recvn(conn, 4)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(recvn(conn, length)))
        if first & 0x0F == 8:
            conn.close()
            return
        reply = b"echo:" + payload
        conn.sendall(bytes([0x81, len(reply)]) + reply)
server = socket.create_server(("", int(os.environ["PORT"])))
while True:
    conn, _ = server.accept()
    threading.Thread(target=handle, args=(conn,), daemon=True).start()
"""


async def test_websockets_and_forwarded_headers_pass_through_the_proxy(
    client: Client, agent: NodeAgent
) -> None:
    live = await session_with_files(client, agent, "python", {"main.py": WS_ECHO}, "ws")
    started = await deploy(client, live.owner, live)
    did = started["deployment_id"]
    assert (await wait_status(client, live.owner, did, "running", "failed"))["status"] == "running"
    site = preview_origin(client, did)
    async with browser() as visitor:
        page = await visitor.get(f"{site}/", headers=live.owner.headers)
        assert await page.text() == "ok -"  # served at the root: no X-Forwarded-Prefix
        async with visitor.ws_connect(f"{site}/socket", headers=live.owner.headers) as ws:
            for text in ("hello", "through the proxy"):
                await ws.send_str(text)
                message = await ws.receive(timeout=5)
                assert message.data == f"echo:{text}"
    await client.post(f"/api/deployments/{did}/stop", headers=live.owner.headers)


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
async def test_idle_deployments_stop_by_themselves(
    make_client: Any, runtime_images: str, engine: str, agent: NodeAgent
) -> None:
    client = await make_client(
        docker_host=runtime_images,
        deploy_engine=engine,
        deploy_idle_seconds=1,
        deploy_check_interval_seconds=0.5,
    )
    live = await session_with_files(client, agent, "html", {"index.html": "idle"}, "i")
    started = await deploy(client, live.owner, live)
    stopped = await wait_status(client, live.owner, started["deployment_id"], "stopped")
    assert stopped["reason"] == "idle"


async def test_a_container_that_dies_ends_failed(
    make_client: Any, runtime_images: str, agent: NodeAgent
) -> None:
    client = await make_client(docker_host=runtime_images, deploy_check_interval_seconds=0.5)
    app = (
        "import http.server, os, threading, time\n"
        "threading.Timer(2, lambda: os._exit(3)).start()\n"
        "http.server.HTTPServer(('', int(os.environ['PORT'])),"
        " http.server.SimpleHTTPRequestHandler).serve_forever()\n"
    )
    live = await session_with_files(client, agent, "python", {"main.py": app}, "d")
    started = await deploy(client, live.owner, live)
    await wait_status(client, live.owner, started["deployment_id"], "running")
    failed = await wait_status(client, live.owner, started["deployment_id"], "failed")
    assert failed["reason"] == "the container exited with code 3"


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
async def test_archiving_the_session_stops_its_deployments(
    client: Client, agent: NodeAgent
) -> None:
    live = await session_with_files(client, agent, "html", {"index.html": "a"}, "ar")
    started = await deploy(client, live.owner, live)
    await wait_status(client, live.owner, started["deployment_id"], "running")
    await client.patch(
        f"/api/sessions/{live.session_id}", json={"status": "archived"}, headers=live.owner.headers
    )
    stopped = await wait_status(client, live.owner, started["deployment_id"], "stopped")
    assert stopped["reason"] == "session archived"


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
async def test_restarting_the_manager_reconciles(
    make_client: Any, runtime_images: str, engine: str, agent: NodeAgent, database_url: str
) -> None:
    first = await make_client(docker_host=runtime_images, deploy_engine=engine)
    live = await session_with_files(first, agent, "html", {"index.html": "survivor"}, "r")
    kept = await deploy(first, live.owner, live)
    await wait_status(first, live.owner, kept["deployment_id"], "running")
    conn = await asyncpg.connect(database_url)
    lost = uuid.uuid4()
    try:
        # Every test's database is its own, so is its cluster (the engine's id with the
        # database's): concurrent test runs on one dockerd leave each other's containers be.
        engine_name, cluster = await conn.fetchrow(
            "SELECT engine, cluster FROM deployments WHERE deployment_id = $1",
            uuid.UUID(kept["deployment_id"]),
        )
        assert engine_name == engine and cluster
        # A row from before clusters were recorded: the reconciler claims it.
        await conn.execute(
            "INSERT INTO deployments (deployment_id, session_id, deployment_url, owner_id, port,"
            " status, runtime, container_id) VALUES ($1, $2::uuid, 'http://x', $3::uuid, 29998,"
            " 'running', 'html', 'gone')",
            lost,
            live.session_id,
            live.owner.user_id,
        )
    finally:
        await conn.close()
    daemon = docker.DockerClient(base_url=runtime_images)
    stranger, neighbour = (
        daemon.containers.run(
            "collab-runtime-html:1",
            ["/bin/busybox", "sleep", "300"],
            detach=True,
            network_mode="none",  # needs no network (nor the daemon's default bridge)
            labels={
                "collab.managed": "true",
                LABEL_DEPLOYMENT: str(uuid.uuid4()),
                LABEL_CLUSTER: of,
            },
        )
        for of in (cluster, f"another-{uuid.uuid4()}")
    )
    await first.close()  # the manager goes away; its containers keep running

    second = await make_client(docker_host=runtime_images, deploy_engine=engine)
    adopted = await wait_status(second, live.owner, kept["deployment_id"], "running")
    assert adopted["status"] == "running"
    async with browser() as visitor:
        page = await visitor.get(
            f"{preview_origin(second, kept['deployment_id'])}/", headers=live.owner.headers
        )
        assert await page.text() == "survivor"
    orphan = await wait_status(second, live.owner, str(lost), "stopped")
    assert orphan["reason"] == "orphaned"
    with pytest.raises(docker.errors.NotFound):
        daemon.containers.get(stranger.id)
    # Another cluster's (another host's, another database's) is not this one's to remove.
    assert daemon.containers.get(neighbour.id).status == "running"
    neighbour.remove(force=True)
    daemon.close()
    await second.post(f"/api/deployments/{kept['deployment_id']}/stop", headers=live.owner.headers)


async def test_a_dynamic_sessions_edits_reach_the_running_container(
    client: Client, agent: NodeAgent
) -> None:
    live = await session_with_files(client, agent, "html", {"index.html": "version 1"}, "dy")
    await client.patch(
        f"/api/sessions/{live.session_id}", json={"is_dynamic": True}, headers=live.owner.headers
    )
    started = await deploy(client, live.owner, live)
    did = started["deployment_id"]
    await wait_status(client, live.owner, did, "running")
    url = str(client.make_url("")).rstrip("/")
    await agent.call(
        "connect", name="editor", url=url, room=live.room("index.html"), token=live.editor.token
    )
    await agent.call("waitText", name="editor", text="version 1")
    await agent.call("insert", name="editor", index=-1, text=" + live edit")
    text = ""
    async with browser() as visitor:
        for _ in range(40):  # "within a second or two"
            page = await visitor.get(started["deployment_url"], headers=live.owner.headers)
            text = await page.text()
            if text == "version 1 + live edit":
                break
            await asyncio.sleep(0.1)
    assert text == "version 1 + live edit"
    await client.post(f"/api/deployments/{did}/stop", headers=live.owner.headers)


async def test_status_and_live_logs_reach_the_session(client: Client, agent: NodeAgent) -> None:
    from tests.session_support import socket_for, wait_for

    app = (
        "import http.server, os, sys, threading, time\n"
        "def talk():\n"
        "    for i in range(3):\n"
        "        print(f'tick {i}', flush=True); time.sleep(0.3)\n"
        "threading.Thread(target=talk).start()\n"
        "http.server.HTTPServer(('', int(os.environ['PORT'])),"
        " http.server.SimpleHTTPRequestHandler).serve_forever()\n"
    )
    live = await session_with_files(client, agent, "python", {"main.py": app}, "lg")
    sio, events = await socket_for(client, live.viewer)
    sio.on("deployment:status", lambda data: events.append(("deployment:status", data)))
    sio.on("deployment:log", lambda data: events.append(("deployment:log", data)))
    try:
        await sio.call("session:join", {"session_id": live.session_id})
        started = await deploy(client, live.owner, live)
        await wait_status(client, live.owner, started["deployment_id"], "running")
        for _ in range(60):
            lines = [
                line for name, data in events if name == "deployment:log" for line in data["lines"]
            ]
            if "tick 2" in lines:
                break
            await asyncio.sleep(0.1)
        assert {"tick 0", "tick 1", "tick 2"} <= set(lines), events
        statuses = [data for name, data in events if name == "deployment:status"]
        assert [s["status"] for s in statuses[:2]] == ["starting", "running"]
        assert {s["deployment_url"] for s in statuses} == {started["deployment_url"]}
        ack = await sio.call("session:join", {"session_id": live.session_id})
        assert [(d["deployment_id"], d["deployment_url"]) for d in ack["deployments"]] == [
            (started["deployment_id"], started["deployment_url"])
        ]
        await client.post(
            f"/api/deployments/{started['deployment_id']}/stop", headers=live.owner.headers
        )
        await wait_for(events, "deployment:status")
    finally:
        await sio.disconnect()


async def test_a_missing_image_ends_failed_with_how_to_fix_it(
    make_client: Any, runtime_images: str, agent: NodeAgent, tmp_path: Any
) -> None:
    from config.runtimes import CATALOGUE

    catalogue = tmp_path / "runtimes.toml"
    catalogue.write_text(
        CATALOGUE.read_text() + '\n[ghost]\nimage = "collab-runtime-ghost:1"\n'
        'port = 80\ncommand = ["/bin/true"]\nmemory = "16m"\ncpus = 0.1\n'
        "pids = 8\n"
    )
    client = await make_client(docker_host=runtime_images, runtimes_file=catalogue)
    live = await session_with_files(client, agent, "ghost", {"index.html": "x"}, "g")
    started = await deploy(client, live.owner, live)
    failed = await wait_status(client, live.owner, started["deployment_id"], "failed")
    assert "collab-runtime-ghost:1 is not built" in failed["reason"]
    assert "collab runtimes build" in failed["reason"]


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
async def test_deployments_stop_at_their_maximum_lifetime(
    make_client: Any, runtime_images: str, engine: str, agent: NodeAgent
) -> None:
    client = await make_client(
        docker_host=runtime_images,
        deploy_engine=engine,
        deploy_max_lifetime_seconds=1,
        deploy_check_interval_seconds=0.5,
    )
    live = await session_with_files(client, agent, "html", {"index.html": "brief"}, "lt")
    started = await deploy(client, live.owner, live)
    stopped = await wait_status(client, live.owner, started["deployment_id"], "stopped")
    assert stopped["reason"] == "maximum lifetime reached"


async def test_deploys_of_a_workspace_session_are_counted_in_its_document(
    client: Client, agent: NodeAgent
) -> None:
    from tests.workspace_support import Person, workspace

    live = await session_with_files(client, agent, "html", {}, "ws")
    owner = Person(client, live.owner.pair)
    ws = await workspace(owner)
    status, session = await owner.call(
        "post", "/api/sessions", {"name": "on ws", "language": "html", "ws_id": ws}
    )
    assert status == 201
    response = await client.post(
        f"/api/sessions/{session['session_id']}/deployments", json={}, headers=live.owner.headers
    )
    assert response.status == 202
    deployment_id = (await response.json())["deployment_id"]
    _, document = await owner.call("get", f"/api/workspaces/{ws}/document")
    assert document["analytics"]["deployments"] == 1
    await wait_status(client, live.owner, deployment_id, "running", "failed")
    await client.post(f"/api/deployments/{deployment_id}/stop", headers=live.owner.headers)
