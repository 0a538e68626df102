"""Deployments: time to first 200, and preview-proxy throughput, against the engine's floor.

Run by hand (needs a Docker Engine and the runtime images: `collab runtimes build`):
    COLLAB_DOCKER_HOST=unix:///var/run/docker.sock .venv/bin/python bench/deploy_latency.py

1. Deploy → first 200: from `POST /api/sessions/{id}/deployments` to the first 200 at the
   preview URL (`{id}.localhost:{port}`, resolved to loopback as browsers do), against the
   same hardened container started straight through the engine (its network, firewall
   rules, create, copy the files, start) to the first 200 at its address: what the engine
   itself costs, with no server in between.
2. Dependencies: deploy → first 200 of a Python app with a cached requirements.txt (its
   install done once before, from a local index this script serves) against the same app
   without dependencies. Goal: within 1.2 times.
3. Swarm: the same deploy → first 200 on a server with `COLLAB_DEPLOY_ENGINE=swarm` (a
   one-task service per deployment), rounds interleaved with the plain engine's, against
   the plain engine's deploy. Goal: within 2 times. Needs the engine to be a swarm manager
   (`docker swarm init --advertise-addr 127.0.0.1`); skipped otherwise, or with --no-swarm.
4. Proxy throughput: requests per second and median latency for a small page through the
   preview's own origin, against the container's address on its network directly: a public
   preview (anonymous visitors), and a private one browsed with its preview cookie (every
   request is the viewer's credential being honoured).
Prints a table; compare the columns of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pycrdt
import socketio

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from config.runtimes import load_runtimes  # noqa: E402
from containers.engine import Containers, ContainerSpec, DockerEngine  # noqa: E402
from tests.deploy_support import Loopback  # noqa: E402
from tests.package_index import PackageIndex  # noqa: E402
from tests.support import ServerProcess  # noqa: E402

PAGE = "<h1>benchmark</h1>" * 20
PY_APP = (
    "import http.server, os{imports}\n"
    "http.server.HTTPServer(('', int(os.environ['PORT'])),"
    " http.server.SimpleHTTPRequestHandler).serve_forever()\n"
)


async def first_200(
    http: aiohttp.ClientSession,
    url: str,
    within: float = 60,
    headers: dict[str, str] | None = None,
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            async with http.get(url, headers=headers) as response:
                if response.status == 200:
                    await response.read()
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.02)
    raise TimeoutError(url)


async def call(
    http: aiohttp.ClientSession, method: str, url: str, token: str | None = None, body: Any = None
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.request(method, url, json=body, headers=headers) as response:
        assert response.status < 300, await response.text()
        return await response.json()


async def deploy_and_open(
    http: aiohttp.ClientSession, base: str, session_id: str, token: str
) -> tuple[dict[str, Any], str]:
    """Deploy publicly and wait for the first 200 at the preview; return it and its URL."""
    started = await call(
        http, "POST", f"{base}/api/sessions/{session_id}/deployments", token, {"public": True}
    )
    preview: str = started["deployment_url"]
    try:
        await first_200(http, preview)
    except TimeoutError:
        where = f"{base}/api/deployments/{started['deployment_id']}"
        raise TimeoutError(f"{preview}: {await call(http, 'GET', where, token)}") from None
    return started, preview


async def put_file(base: str, token: str, session_id: str, path: str, text: str) -> None:
    namespace = f"/yjs|{session_id}/{path}"
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.get("content", type=pycrdt.Text).insert(0, text)
    sio = socketio.AsyncClient()
    await sio.connect(base, namespaces=[namespace], auth={"token": token}, transports=["websocket"])
    await sio.emit("sync-update", doc.get_update(), namespace=namespace)
    await asyncio.sleep(0.5)
    await sio.disconnect()


async def dependency_case(
    http: aiohttp.ClientSession, base: str, token: str, rounds: int
) -> tuple[list[float], list[float], float]:
    """(without dependencies, with cached ones: deploy → first 200 each round; the install)."""
    sessions = {}
    for name, files in {
        "plain": {"main.py": PY_APP.format(imports="")},
        "deps": {
            "main.py": PY_APP.format(imports=", collabdemo"),
            "requirements.txt": "collabdemo==1.0\n",
        },
    }.items():
        session = await call(
            http, "POST", f"{base}/api/sessions", token, {"name": name, "language": "python"}
        )
        for path, text in files.items():
            await put_file(base, token, session["session_id"], path, text)
        sessions[name] = session["session_id"]

    async def once(session_id: str) -> float:
        start = time.perf_counter()
        started, _ = await deploy_and_open(http, base, session_id, token)
        took = time.perf_counter() - start
        await call(http, "POST", f"{base}/api/deployments/{started['deployment_id']}/stop", token)
        return took

    install = await once(sessions["deps"])  # the first deploy installs
    plain, cached = [], []
    for _ in range(rounds):
        plain.append(await once(sessions["plain"]))
        cached.append(await once(sessions["deps"]))
    return plain, cached, install


async def html_session(http: aiohttp.ClientSession, base: str) -> tuple[str, str]:
    """A new user's (token, session id) of an html session holding the benchmark page."""
    pair = await call(
        http,
        "POST",
        f"{base}/api/auth/register",
        body={"email": "bench@example.org", "username": "bench", "password": "Bench-Mark-2026"},
    )
    token: str = pair["access_token"]
    session = await call(
        http, "POST", f"{base}/api/sessions", token, {"name": "bench", "language": "html"}
    )
    session_id: str = session["session_id"]
    await put_file(base, token, session_id, "index.html", PAGE)
    return token, session_id


async def deploy_once(http: aiohttp.ClientSession, base: str, session_id: str, token: str) -> float:
    """Deploy → first 200 in seconds; then stop it."""
    start = time.perf_counter()
    started, _ = await deploy_and_open(http, base, session_id, token)
    took = time.perf_counter() - start
    await call(http, "POST", f"{base}/api/deployments/{started['deployment_id']}/stop", token)
    return took


def is_swarm_manager(docker_host: str) -> bool:
    import docker

    client = docker.DockerClient(base_url=docker_host)
    try:
        swarm = client.info().get("Swarm") or {}
        return bool(swarm.get("LocalNodeState") == "active" and swarm.get("ControlAvailable"))
    finally:
        client.close()


async def preview_cookie(http: aiohttp.ClientSession, preview: str, token: str) -> str:
    """The private preview's cookie, as a browser gets it on its first visit."""
    async with http.get(f"{preview}?token={token}", allow_redirects=False) as response:
        assert response.status == 302, await response.text()
        return response.cookies["collab_preview"].value


async def throughput(
    http: aiohttp.ClientSession,
    url: str,
    total: int,
    concurrency: int,
    headers: dict[str, str] | None = None,
) -> tuple[float, float]:
    latencies: list[float] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            start = time.perf_counter()
            async with http.get(url, headers=headers) as response:
                assert response.status == 200, response.status
                await response.read()
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(worker(total // concurrency) for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    return len(latencies) / elapsed, statistics.median(latencies) * 1000


async def main(rounds: int, requests: int, concurrency: int, swarm: bool) -> None:
    docker_host = os.environ.get("COLLAB_DOCKER_HOST", "unix:///var/run/docker.sock")
    engine = DockerEngine(docker_host)
    containers = Containers(engine)
    runtime = load_runtimes()["html"]
    index = PackageIndex()
    index.add_wheel("collabdemo", "1.0", {"collabdemo/__init__.py": "GREETING = 'hi'\n"})
    await index.start()
    env = {
        "COLLAB_DOCKER_HOST": docker_host,
        "COLLAB_LOG_LEVEL": "WARNING",
        "COLLAB_DEPLOY_PIP_INDEX_URL": index.pip_url,
    }
    swarm = swarm and is_swarm_manager(docker_host)
    # A second server on the same engine, as a swarm: its own data directory and database.
    on_swarm = ServerProcess(
        Path(tempfile.mkdtemp(prefix="collab-bench-swarm-")) / "data",
        env | {"COLLAB_DEPLOY_ENGINE": "swarm"},
    )
    with (
        ServerProcess(Path(tempfile.mkdtemp(prefix="collab-bench-")) / "data", env) as server,
        on_swarm if swarm else contextlib.nullcontext(),
    ):
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=Loopback())
        ) as http:
            token, session_id = await html_session(http, server.url)
            if swarm:
                swarm_token, swarm_session = await html_session(http, on_swarm.url)

            plain, cached, install = await dependency_case(http, server.url, token, rounds)
            ours, floor, swarmed = [], [], []
            for _ in range(rounds):
                ours.append(await deploy_once(http, server.url, session_id, token))
                if swarm:
                    swarmed.append(
                        await deploy_once(http, on_swarm.url, swarm_session, swarm_token)
                    )

                start = time.perf_counter()
                floor_started = await containers.start(
                    ContainerSpec(runtime, str(uuid.uuid4()), {"index.html": PAGE})
                )
                await first_200(http, f"http://{floor_started.address}:{runtime.port}/")
                floor.append(time.perf_counter() - start)
                await containers.remove(floor_started.container_id)

            started, preview = await deploy_and_open(http, server.url, session_id, token)
            private = await call(
                http,
                "POST",
                f"{server.url}/api/sessions/{session_id}/deployments",
                token,
            )
            private_preview = private["deployment_url"]
            await first_200(http, private_preview, headers={"Authorization": f"Bearer {token}"})
            cookie = {
                "Cookie": f"collab_preview={await preview_cookie(http, private_preview, token)}"
            }
        connector = aiohttp.TCPConnector(limit=concurrency, resolver=Loopback())
        async with aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar()
        ) as http:
            direct_address = await _address_of(started["deployment_id"])
            proxied = await throughput(http, preview, requests, concurrency)
            with_cookie = await throughput(http, private_preview, requests, concurrency, cookie)
            direct = await throughput(
                http, f"http://{direct_address}:{runtime.port}/", requests, concurrency
            )
    engine.close()
    await index.close()

    print(f"{'measure':<34} | {'collab':>10} | {'engine floor':>12} | ratio")
    print("-" * 72)
    o, f = statistics.median(ours) * 1000, statistics.median(floor) * 1000
    print(f"{'deploy → first 200, median ms':<34} | {o:>10.0f} | {f:>12.0f} | {o / f:.2f}")
    p, c = statistics.median(plain) * 1000, statistics.median(cached) * 1000
    if swarmed:
        w = statistics.median(swarmed) * 1000
        against = f"plain {o:.0f}"
        print(f"{'swarm: deploy → first 200, ms':<34} | {w:>10.0f} | {against:>12} | {w / o:.2f}")
    print(f"{'python, no dependencies, ms':<34} | {p:>10.0f} | {'':>12} |")
    print(f"{'python, first install, ms':<34} | {install * 1000:>10.0f} | {'':>12} |")
    print(f"{'python, cached dependencies, ms':<34} | {c:>10.0f} | {'':>12} | {c / p:.2f}")
    print(
        f"{'requests/s (c=' + str(concurrency) + ')':<34} | {proxied[0]:>10.0f} | "
        f"{direct[0]:>12.0f} | {proxied[0] / direct[0]:.2f}"
    )
    print(
        f"{'request latency, median ms':<34} | {proxied[1]:>10.2f} | {direct[1]:>12.2f} | "
        f"{proxied[1] / direct[1]:.2f}"
    )
    print(
        f"{'private, cookie: requests/s':<34} | {with_cookie[0]:>10.0f} | "
        f"{direct[0]:>12.0f} | {with_cookie[0] / direct[0]:.2f}"
    )
    print(
        f"{'private, cookie: latency, ms':<34} | {with_cookie[1]:>10.2f} | "
        f"{direct[1]:>12.2f} | {with_cookie[1] / direct[1]:.2f}"
    )


async def _address_of(deployment_id: str) -> str:
    import docker

    client = docker.DockerClient(
        base_url=os.environ.get("COLLAB_DOCKER_HOST", "unix:///var/run/docker.sock")
    )
    try:
        [container] = client.containers.list(
            filters={"label": f"collab.deployment={deployment_id}"}
        )
        network = next(iter(container.attrs["NetworkSettings"]["Networks"].values()))
        return str(network["IPAddress"])
    finally:
        client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--no-swarm", action="store_true", help="skip the Swarm engine's case")
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.requests, args.concurrency, not args.no_swarm))
