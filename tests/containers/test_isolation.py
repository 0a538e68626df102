"""Deployments isolated from each other and from the host, tried from inside as an attacker
would; their environment and secrets; output kept after they stop; their usage.

Test traffic only ever goes to loopback, to the host's own bridge addresses (our networks'
gateways) or to containers these tests started.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json

import aiohttp
import asyncpg
import docker
import pytest

from containers.engine import NETWORK_PREFIX
from tests.containers.conftest import ENGINES
from tests.deploy_support import browser, deploy, session_with_files, wait_status
from tests.live_support import LiveSession
from tests.node_agent import NodeAgent
from tests.support import Client, free_port

# B logs every connection it accepts, before reading anything from it.
B_APP = """
import http.server, os, socketserver
class Handler(http.server.BaseHTTPRequestHandler):
    def setup(self):
        print(f"B accepted {self.client_address[0]}", flush=True)
        super().setup()
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"B")
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), Handler).serve_forever()
"""

# A prints its routes at start, and on /probe?targets=host:port,... tries each (GATEWAY is
# its own network's gateway, read from its routes) and prints and answers what happened.
A_APP = """
import http.server, json, os, socket, urllib.parse
routes = open("/proc/net/route").read()
print("ROUTES " + json.dumps(routes.splitlines()[1:]), flush=True)
line = routes.splitlines()[1].split()
net = bytes.fromhex(line[1])[::-1]  # the kernel writes it in host (little-endian) order
gateway = socket.inet_ntoa(net[:3] + bytes([net[3] + 1]))
def probe(target):
    host, port = target.rsplit(":", 1)
    host = gateway if host == "GATEWAY" else host
    try:
        socket.create_connection((host, int(port)), timeout=1.5).close()
        return "open"
    except OSError as exc:
        return "blocked " + type(exc).__name__
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        results = {}
        for target in query.get("targets", [""])[0].split(","):
            if target:
                results[target] = probe(target)
                print(f"PROBE {target} {results[target]}", flush=True)
        body = json.dumps({"gateway": gateway, "results": results}).encode()
        self.send_response(200); self.end_headers(); self.wfile.write(body)
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), Handler).serve_forever()
"""


async def _address(database_url: str, deployment_id: str) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        address: str = await conn.fetchval(
            "SELECT address FROM deployments WHERE deployment_id = $1::uuid", deployment_id
        )
    finally:
        await conn.close()
    return address


async def _logs(client: Client, live: LiveSession, deployment_id: str) -> str:
    response = await client.get(
        f"/api/deployments/{deployment_id}/logs?tail=1000", headers=live.owner.headers
    )
    assert response.status == 200
    return await response.text()


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
async def test_a_deployment_reaches_neither_another_nor_the_host(
    client: Client, agent: NodeAgent, database_url: str, runtime_images: str
) -> None:
    live_b = await session_with_files(client, agent, "python", {"main.py": B_APP}, "vb")
    live_a = await session_with_files(client, agent, "python", {"main.py": A_APP}, "va")
    b = await deploy(client, live_b.owner, live_b, public=True)
    a = await deploy(client, live_a.owner, live_a, public=True)
    for who, started in ((live_b, b), (live_a, a)):
        running = await wait_status(
            client, who.owner, started["deployment_id"], "running", "failed"
        )
        assert running["status"] == "running", running
    b_address = await _address(database_url, b["deployment_id"])
    a_address = await _address(database_url, a["deployment_id"])
    a_gateway = str(ipaddress.ip_network(f"{a_address}/28", strict=False)[1])
    b_gateway = str(ipaddress.ip_network(f"{b_address}/28", strict=False)[1])
    assert a_gateway != b_gateway

    # Canaries: servers of the host on each bridge's own address, counting what they accept.
    accepted: list[str] = []

    def canary(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(str(writer.get_extra_info("sockname")))
        writer.close()

    canary_port = free_port()
    canaries = [
        await asyncio.start_server(canary, a_gateway, canary_port),
        await asyncio.start_server(canary, b_gateway, canary_port),
    ]
    assert client.port is not None
    targets = {
        f"127.0.0.1:{8000}": "open",  # its own app: a probe can succeed
        f"{b_address}:8000": "blocked",  # another deployment
        f"GATEWAY:{client.port}": "blocked",  # the server's port, through its gateway
        "GATEWAY:8000": "blocked",  # B's port, through its gateway
        f"GATEWAY:{canary_port}": "blocked",  # a host port on its own bridge's address
        f"{b_gateway}:{canary_port}": "blocked",  # the host, on another bridge's address
        f"127.0.0.1:{client.port}": "blocked",  # the host's loopback is not its loopback
    }
    try:
        async with browser() as visitor:
            answer = await visitor.get(
                a["deployment_url"] + "probe?targets=" + ",".join(targets),
                timeout=aiohttp.ClientTimeout(total=60),
            )
            assert answer.status == 200, await answer.text()
            probed = await answer.json(content_type=None)
            # The server reaches B (as its preview does), so B's log is known to work.
            assert await (await visitor.get(b["deployment_url"])).text() == "B"
    finally:
        for server in canaries:
            server.close()
    assert probed["gateway"] == a_gateway
    assert {t: r.split()[0] for t, r in probed["results"].items()} == targets, probed
    assert accepted == []
    b_logs = await _logs(client, live_b, b["deployment_id"])
    assert f"B accepted {b_gateway}" in b_logs  # the server's preview request
    assert a_address not in b_logs  # and nothing from A

    # A printed the same, and had no default route (egress `none`).
    a_logs = await _logs(client, live_a, a["deployment_id"])
    assert f"PROBE {b_address}:8000 blocked" in a_logs
    [routes] = [line for line in a_logs.splitlines() if line.startswith("ROUTES ")]
    destinations = [r.split()[1] for r in json.loads(routes.removeprefix("ROUTES "))]
    assert destinations and "00000000" not in destinations
    engine = docker.DockerClient(base_url=runtime_images)
    try:
        network = engine.networks.get(NETWORK_PREFIX + a["deployment_id"])
        assert network.attrs["Internal"] is True
    finally:
        engine.close()
    for who, started in ((live_a, a), (live_b, b)):
        await client.post(
            f"/api/deployments/{started['deployment_id']}/stop", headers=who.owner.headers
        )
        await wait_status(client, who.owner, started["deployment_id"], "stopped")
    engine = docker.DockerClient(base_url=runtime_images)
    try:
        assert not engine.networks.list(names=[NETWORK_PREFIX + a["deployment_id"]])
    finally:
        engine.close()


SECRET = "s3cr3t-value-for-the-test"
ENV_APP = """
import hashlib, http.server, json, os
print(f"greeting={os.environ.get('GREETING')} token={os.environ.get('API_TOKEN')}", flush=True)
print(f"from the workspace: {os.environ.get('FROM_WS')}", flush=True)
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({
            "greeting": os.environ.get("GREETING"),
            "from_ws": os.environ.get("FROM_WS"),
            "token_sha256": hashlib.sha256(os.environ["API_TOKEN"].encode()).hexdigest(),
            "port": os.environ.get("PORT"),
        }).encode()
        self.send_response(200); self.end_headers(); self.wfile.write(body)
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), Handler).serve_forever()
"""


async def test_environment_and_secrets_reach_the_container_and_nothing_else(
    client: Client, agent: NodeAgent, database_url: str
) -> None:
    from tests.session_support import socket_for
    from tests.workspace_support import Person, workspace

    live = await session_with_files(client, agent, "python", {"main.py": ENV_APP}, "env")
    owner = Person(client, live.owner.pair)
    ws = await workspace(owner)
    status, _ = await owner.call(
        "patch",
        f"/api/workspaces/{ws}/document",
        {
            "environment": {
                "variables": [
                    {"name": "FROM_WS", "value": "ws-value"},
                    {"name": "GREETING", "value": "overridden"},
                ]
            }
        },
    )
    assert status == 200
    status, session = await owner.call(
        "post", "/api/sessions", {"name": "on ws", "language": "python", "ws_id": ws}
    )
    assert status == 201
    # The workspace session gets the same file.
    live_ws = LiveSession(session["session_id"], live.owner, live.editor, live.viewer)
    url = str(client.make_url("")).rstrip("/")
    await agent.call(
        "connect", name="envw", url=url, room=live_ws.room("main.py"), token=live.owner.token
    )
    await agent.call("insert", name="envw", index=0, text=ENV_APP)
    await agent.call("close", name="envw")
    await asyncio.sleep(0.3)

    variables = [
        {"name": "GREETING", "value": "hello"},
        {"name": "API_TOKEN", "value": SECRET, "secret": True},
        {"name": "PORT", "value": "1"},
    ]
    path = f"/api/sessions/{live_ws.session_id}"
    refused = await client.patch(
        path, json={"environment": {"variables": variables}}, headers=live.owner.headers
    )
    assert refused.status == 422
    assert (await refused.json())["error"]["code"] == "validation_failed"
    for bad in ("1ABC", "A-B", "COLLAB_X", "GIT_TOKEN", "GIT_USERNAME"):
        response = await client.patch(
            path,
            json={"environment": {"variables": [{"name": bad, "value": "x"}]}},
            headers=live.owner.headers,
        )
        assert response.status == 422, bad
    editor_try = await client.patch(
        path, json={"environment": {"variables": []}}, headers=live.editor.headers
    )
    assert editor_try.status in (403, 404)
    changed = await client.patch(
        path, json={"environment": {"variables": variables[:2]}}, headers=live.owner.headers
    )
    assert changed.status == 200, await changed.text()
    answered = await changed.json()
    assert answered["environment"]["variables"][1] == {
        "name": "API_TOKEN",
        "value": "••••••••",
        "secret": True,
    }
    # Sending the mask back keeps the stored secret.
    masked_back = [variables[0], {"name": "API_TOKEN", "value": "••••••••", "secret": True}]
    again = await client.patch(
        path, json={"environment": {"variables": masked_back}}, headers=live.owner.headers
    )
    assert again.status == 200
    read = await (await client.get(path, headers=live.owner.headers)).json()
    assert read["environment"] == answered["environment"]

    sio, events = await socket_for(client, live.owner)
    sio.on("deployment:log", lambda data: events.append(("deployment:log", data)))
    try:
        await sio.call("session:join", {"session_id": live_ws.session_id})
        started = await deploy(client, live.owner, live_ws, public=True)
        did = started["deployment_id"]
        running = await wait_status(client, live.owner, did, "running", "failed")
        assert running["status"] == "running", running
        async with browser() as visitor:
            seen = await (await visitor.get(started["deployment_url"])).json(content_type=None)
        assert seen == {
            "greeting": "hello",  # the session's over the workspace's
            "from_ws": "ws-value",
            "token_sha256": hashlib.sha256(SECRET.encode()).hexdigest(),
            "port": "8000",
        }
        for _ in range(50):
            lines = [line for name, d in events if name == "deployment:log" for line in d["lines"]]
            if any("token=" in line for line in lines):
                break
            await asyncio.sleep(0.1)
        assert "greeting=hello token=***" in lines, events
        assert "from the workspace: ws-value" in lines
        live_logs = await _logs(client, live, did)
        assert "token=***" in live_logs and SECRET not in live_logs
        await client.post(f"/api/deployments/{did}/stop", headers=live.owner.headers)
        await wait_status(client, live.owner, did, "stopped")
    finally:
        await sio.disconnect()
    kept = await _logs(client, live, did)
    assert "greeting=hello token=***" in kept and SECRET not in kept
    assert SECRET not in json.dumps(events)

    conn = await asyncpg.connect(database_url)
    try:
        audit = await conn.fetchval("SELECT string_agg(t::text, ' ') FROM audit_logs t")
        stored = await conn.fetchval(
            "SELECT environment::text FROM sessions WHERE session_id = $1::uuid",
            live_ws.session_id,
        )
        output = await conn.fetchval(
            "SELECT string_agg(coalesce(output, '') || coalesce(reason, ''), ' ') FROM deployments"
        )
    finally:
        await conn.close()
    assert SECRET not in audit and SECRET not in stored and SECRET not in output
    assert "API_TOKEN" in stored  # sealed, not dropped


async def test_a_failed_start_does_not_tell_its_secrets(client: Client, agent: NodeAgent) -> None:
    app = (
        "import os\nprint('leaking ' + os.environ['API_TOKEN'], flush=True)\nraise SystemExit(3)\n"
    )
    live = await session_with_files(client, agent, "python", {"main.py": app}, "fl")
    response = await client.patch(
        f"/api/sessions/{live.session_id}",
        json={
            "environment": {"variables": [{"name": "API_TOKEN", "value": SECRET, "secret": True}]}
        },
        headers=live.owner.headers,
    )
    assert response.status == 200
    started = await deploy(client, live.owner, live)
    failed = await wait_status(client, live.owner, started["deployment_id"], "failed")
    assert "exited with code 3" in failed["reason"]
    assert "leaking ***" in failed["reason"] and SECRET not in failed["reason"]
    kept = await _logs(client, live, started["deployment_id"])
    assert "leaking ***" in kept and SECRET not in kept


async def test_output_outlives_the_container_and_usage_is_read_while_running(
    client: Client, agent: NodeAgent
) -> None:
    app = (
        "import http.server, os\n"
        "for i in range(5000):\n"
        "    print(f'line {i} ' + 'x' * 80)\n"
        "print('ready', flush=True)\n"
        "class Quiet(http.server.SimpleHTTPRequestHandler):\n"
        "    def log_message(self, *args): pass\n"
        "http.server.HTTPServer(('', int(os.environ['PORT'])), Quiet).serve_forever()\n"
    )
    live = await session_with_files(client, agent, "python", {"main.py": app}, "ol")
    started = await deploy(client, live.owner, live)
    did = started["deployment_id"]
    assert (await wait_status(client, live.owner, did, "running"))["status"] == "running"

    stats = await client.get(f"/api/deployments/{did}/stats", headers=live.viewer.headers)
    assert stats.status == 200, await stats.text()
    usage = await stats.json()
    assert set(usage) == {
        "cpu_percent",
        "memory_bytes",
        "memory_limit_bytes",
        "network_rx_bytes",
        "network_tx_bytes",
    }
    assert usage["memory_limit_bytes"] == 256 * 1024 * 1024  # the runtime's limit
    assert 0 < usage["memory_bytes"] < usage["memory_limit_bytes"]
    assert usage["cpu_percent"] >= 0 and usage["network_rx_bytes"] > 0  # the readiness probe
    outsider = await client.get(f"/api/deployments/{did}/stats")
    assert outsider.status == 401

    await client.post(f"/api/deployments/{did}/stop", headers=live.owner.headers)
    await wait_status(client, live.owner, did, "stopped")
    after = await client.get(f"/api/deployments/{did}/stats", headers=live.viewer.headers)
    assert after.status == 409
    assert (await after.json())["error"]["code"] == "conflict"

    kept = await client.get(f"/api/deployments/{did}/logs?tail=10000", headers=live.viewer.headers)
    assert kept.status == 200
    text = await kept.text()
    # The last 256 KiB, whole lines, ending with what it printed last.
    assert text.splitlines()[-1] == "ready"
    assert 250 * 1024 < len(text.encode()) <= 256 * 1024
    assert text.startswith("line ")
    assert "line 0 " not in text  # ~440 KiB were printed: the start is cut
    tail = await client.get(f"/api/deployments/{did}/logs?tail=2", headers=live.viewer.headers)
    assert (await tail.text()).splitlines() == [f"line 4999 {'x' * 80}", "ready"]


async def test_internet_egress_is_a_routed_network_that_never_reaches_private_ranges(
    runtime_images: str,
) -> None:
    """Egress `internet`, checked without sending anything: not internal, a default route,
    and the host's rules that drop private ranges and anything opened towards the host."""
    import subprocess
    import uuid

    from config.runtimes import load_runtimes
    from containers.engine import (
        Containers,
        ContainerSpec,
        DockerEngine,
        Egress,
        Isolation,
        bridge_name,
    )

    engine = DockerEngine(runtime_images)
    containers = Containers(
        engine, Isolation(Egress.INTERNET, ipaddress.IPv4Network("172.30.0.0/16"))
    )
    deployment = str(uuid.uuid4())
    started = await containers.start(
        ContainerSpec(load_runtimes()["html"], deployment, {"index.html": "x"})
    )
    client = docker.DockerClient(base_url=runtime_images)
    bridge = bridge_name(deployment)
    try:
        assert client.networks.get(NETWORK_PREFIX + deployment).attrs["Internal"] is False
        container = client.containers.get(started.container_id)
        routes = container.exec_run(["/bin/busybox", "cat", "/proc/net/route"]).output.decode()
        assert "00000000" in [line.split()[1] for line in routes.splitlines()[1:]]
        forward = subprocess.run(
            ["iptables", "-w", "10", "-S", "DOCKER-USER"], capture_output=True, text=True
        ).stdout
        dropped = {
            line.split(" -d ")[1].split()[0] for line in forward.splitlines() if bridge in line
        }
        assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= dropped
        host = subprocess.run(
            ["iptables", "-w", "10", "-S", "INPUT"], capture_output=True, text=True
        ).stdout
        assert any(bridge in line and "DROP" in line for line in host.splitlines())
    finally:
        await containers.remove(started.container_id)
        client.close()
        engine.close()
    after = subprocess.run(["iptables", "-w", "10", "-S"], capture_output=True, text=True).stdout
    assert bridge not in after  # its rules went with it
