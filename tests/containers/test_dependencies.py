"""Dependencies installed before the app starts, from a package index the test serves itself
(a wheel and an npm tarball built here), cached as an image per dependency files."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import docker
import pytest

from containers.dependency_images import BUILD_PREFIX
from tests.deploy_support import browser, deploy, session_with_files
from tests.live_support import LiveSession, Member
from tests.node_agent import NodeAgent
from tests.package_index import PackageIndex, lockfile, package_json
from tests.session_support import socket_for
from tests.support import Client

PY_APP = (
    "import http.server, os, collabdemo\n"
    "class Hello(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        body = collabdemo.GREETING.encode()\n"
    "        self.send_response(200); self.send_header('Content-Length', str(len(body)))\n"
    "        self.end_headers(); self.wfile.write(body)\n"
    "http.server.HTTPServer(('', int(os.environ['PORT'])), Hello).serve_forever()\n"
)
JS_APP = (
    "const http = require('http'), fs = require('fs'), demo = require('collab-demo');\n"
    "const ran = fs.existsSync('/node_modules/collab-demo/made-by-postinstall.txt');\n"
    "http.createServer((req, res) => res.end(`${demo.greeting} script:${ran}`))\n"
    "  .listen(process.env.PORT);\n"
)
# A postinstall script of the package: it may only run in the build container.
POSTINSTALL = "node -e \"require('fs').writeFileSync('made-by-postinstall.txt', 'yes')\""


@pytest.fixture
async def index() -> AsyncIterator[PackageIndex]:
    served = PackageIndex()
    served.add_wheel("collabdemo", "1.0", {"collabdemo/__init__.py": "GREETING = 'demo 1.0'\n"})
    served.add_wheel("collabdemo", "2.0", {"collabdemo/__init__.py": "GREETING = 'demo 2.0'\n"})
    await served.start()
    yield served
    await served.close()


@pytest.fixture
async def client(make_client: Any, runtime_images: str, index: PackageIndex) -> Client:
    made: Client = await make_client(
        docker_host=runtime_images,
        deploy_start_timeout_seconds=15,
        deploy_pip_index_url=index.pip_url,
        deploy_npm_registry=index.npm_url,
        deploy_install_timeout_seconds=60,
    )
    return made


async def _deploy_and_wait(
    client: Client, who: Member, live: LiveSession, logs: list[tuple[str, Any]]
) -> tuple[dict[str, Any], float, list[str]]:
    """Deploy (public), wait until it runs or fails; (deployment, seconds, its log lines)."""
    began = time.monotonic()
    started = await deploy(client, who, live, public=True)
    did = started["deployment_id"]
    for _ in range(900):
        body: dict[str, Any] = await (
            await client.get(f"/api/deployments/{did}", headers=who.headers)
        ).json()
        if body["status"] in ("running", "failed"):
            break
        await asyncio.sleep(0.1)
    took = time.monotonic() - began
    await asyncio.sleep(0.7)  # the last batch of log lines
    lines = [line for name, d in logs if name == did for line in d["lines"]]
    return body | {"deployment_url": started["deployment_url"]}, took, lines


async def _page(url: str) -> str:
    async with browser() as visitor, visitor.get(url) as page:
        assert page.status == 200, await page.text()
        return await page.text()


async def _logs_of(client: Client, live: LiveSession) -> Any:
    sio, _ = await socket_for(client, live.owner)
    logs: list[tuple[str, Any]] = []
    sio.on("deployment:log", lambda data: logs.append((data["deployment_id"], data)))
    await sio.call("session:join", {"session_id": live.session_id})
    return sio, logs


async def _stop(client: Client, who: Member, deployment_id: str) -> None:
    await client.post(f"/api/deployments/{deployment_id}/stop", headers=who.headers)


async def test_requirements_install_once_and_are_cached(
    client: Client, agent: NodeAgent, index: PackageIndex
) -> None:
    files = {"main.py": PY_APP, "requirements.txt": "collabdemo==1.0  # the demo\n"}
    live = await session_with_files(client, agent, "python", files, "dp")
    sio, logs = await _logs_of(client, live)
    try:
        first, installing, lines = await _deploy_and_wait(client, live.owner, live, logs)
        assert first["status"] == "running", (first["reason"], lines)
        assert await _page(first["deployment_url"]) == "demo 1.0"
        assert any(line.startswith("[install] ") for line in lines), lines
        assert "[install] Successfully installed collabdemo-1.0" in lines
        fetched = list(index.requests)
        assert "/files/collabdemo-1.0-py3-none-any.whl" in fetched
        await _stop(client, live.owner, first["deployment_id"])

        # Unchanged files: the image is there, nothing is fetched or installed.
        again, cached, lines = await _deploy_and_wait(client, live.owner, live, logs)
        assert again["status"] == "running", again
        assert await _page(again["deployment_url"]) == "demo 1.0"
        assert not [line for line in lines if line.startswith("[install]")], lines
        assert index.requests == fetched
        assert cached < installing, (cached, installing)
        await _stop(client, live.owner, again["deployment_id"])

        # A changed requirements.txt installs again.
        url = str(client.make_url("")).rstrip("/")
        await agent.call(
            "connect",
            name="dp-edit",
            url=url,
            room=live.room("requirements.txt"),
            token=live.owner.token,
        )
        # y-socket.io calls itself synced before the server's state has arrived: wait for the
        # text, or the insert lands beside the old line instead of before it.
        await agent.call("waitText", name="dp-edit", text=files["requirements.txt"])
        await agent.call("insert", name="dp-edit", index=0, text="collabdemo==2.0\n#")
        await agent.call("close", name="dp-edit")
        await asyncio.sleep(0.3)
        changed, _, lines = await _deploy_and_wait(client, live.owner, live, logs)
        assert changed["status"] == "running", (changed["reason"], lines)
        assert await _page(changed["deployment_url"]) == "demo 2.0"
        assert "[install] Successfully installed collabdemo-2.0" in lines
        await _stop(client, live.owner, changed["deployment_id"])
    finally:
        await sio.disconnect()


async def test_package_json_installs_from_the_registry_with_scripts_in_the_build(
    client: Client, agent: NodeAgent, index: PackageIndex
) -> None:
    digest = index.add_npm(
        "collab-demo",
        "1.0.0",
        {"index.js": "module.exports = { greeting: 'npm demo 1.0.0' };\n"},
        {"postinstall": POSTINSTALL},
    )
    wanted = {"collab-demo": ("1.0.0", digest)}
    files = {
        "index.js": JS_APP,
        "package.json": package_json("app", wanted),
        # The lockfile names another registry (a closed port on loopback): the server's own
        # registry is asked instead.
        "package-lock.json": lockfile(
            "app", wanted, "http://127.0.0.2:9/npm", with_install_scripts=frozenset(wanted)
        ),
    }
    live = await session_with_files(client, agent, "javascript", files, "dj")
    sio, logs = await _logs_of(client, live)
    try:
        running, _, lines = await _deploy_and_wait(client, live.owner, live, logs)
        assert running["status"] == "running", (running, lines)
        assert await _page(running["deployment_url"]) == "npm demo 1.0.0 script:true"
        assert "/npm/collab-demo/-/collab-demo-1.0.0.tgz" in index.requests
        assert any(line.startswith("[install] added 1 package") for line in lines), lines
        await _stop(client, live.owner, running["deployment_id"])
    finally:
        await sio.disconnect()


async def test_an_unknown_package_fails_with_the_installers_last_lines(
    client: Client, agent: NodeAgent
) -> None:
    files = {"main.py": PY_APP, "requirements.txt": "no-such-package==1.0\n"}
    live = await session_with_files(client, agent, "python", files, "du")
    sio, logs = await _logs_of(client, live)
    try:
        failed, _, lines = await _deploy_and_wait(client, live.owner, live, logs)
    finally:
        await sio.disconnect()
    assert failed["status"] == "failed"
    assert failed["reason"].startswith("the dependencies could not be installed")
    assert "No matching distribution found for no-such-package==1.0" in failed["reason"]
    assert any("No matching distribution" in line for line in lines), lines


async def test_options_and_urls_in_dependency_files_are_refused_before_any_fetch(
    client: Client, agent: NodeAgent, index: PackageIndex
) -> None:
    files = {"main.py": PY_APP, "requirements.txt": "--index-url http://127.0.0.2:9/\ndemo\n"}
    live = await session_with_files(client, agent, "python", files, "do")
    failed, _, _ = await _deploy_and_wait(client, live.owner, live, [])
    assert failed["status"] == "failed"
    assert "options are not accepted" in failed["reason"], failed
    package = '{"name": "a", "dependencies": {"x": "file:/etc"}}'
    live = await session_with_files(
        client,
        agent,
        "javascript",
        {"index.js": JS_APP, "package.json": package, "package-lock.json": "{}"},
        "dq",
    )
    failed, _, _ = await _deploy_and_wait(client, live.owner, live, [])
    assert failed["status"] == "failed"
    assert "only versions and ranges" in failed["reason"], failed
    assert index.requests == []


async def test_an_install_past_its_time_limit_fails_and_leaves_no_build(
    make_client: Any, runtime_images: str, index: PackageIndex, agent: NodeAgent
) -> None:
    client = await make_client(
        docker_host=runtime_images,
        deploy_pip_index_url=index.pip_url,
        deploy_npm_registry=index.npm_url,
        deploy_install_timeout_seconds=6,
    )
    digest = index.add_npm("collab-demo", "1.0.0", {"index.js": "module.exports = {};\n"})
    wanted = {"collab-demo": ("1.0.0", digest)}
    # The project's own postinstall never ends (it runs in the build container only).
    forever = {"postinstall": 'node -e "setTimeout(() => {}, 600000)"'}
    files = {
        "index.js": JS_APP,
        "package.json": package_json("app", wanted, forever),
        "package-lock.json": lockfile("app", wanted, index.npm_url.rstrip("/"), forever),
    }
    live = await session_with_files(client, agent, "javascript", files, "dt")
    began = time.monotonic()
    failed, _, _ = await _deploy_and_wait(client, live.owner, live, [])
    assert failed["status"] == "failed", failed
    assert "(not done within 6s)" in failed["reason"], failed
    assert time.monotonic() - began < 20
    engine = docker.DockerClient(base_url=runtime_images)
    try:
        assert not engine.containers.list(
            all=True, filters={"name": BUILD_PREFIX + failed["deployment_id"]}
        )
    finally:
        engine.close()

    # A stalled index counts against the same limit (the fetch on the server).
    index.stall = True
    files = {"main.py": PY_APP, "requirements.txt": "collabdemo\n"}
    stalled = await session_with_files(client, agent, "python", files, "ds")
    failed, _, _ = await _deploy_and_wait(client, stalled.owner, stalled, [])
    assert failed["status"] == "failed" and "(not done within 6s)" in failed["reason"], failed
