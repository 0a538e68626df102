"""The runtime catalogue, `collab runtimes build`, and hardened containers on a real engine."""

from __future__ import annotations

import asyncio
import urllib.request
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import docker
import pytest

from config.runtimes import CatalogueError, load_runtimes
from containers.engine import (
    LABEL_DEPLOYMENT,
    NETWORK_PREFIX,
    Containers,
    ContainerSpec,
    DockerEngine,
)
from tests.support import free_port, run_collab

APPS = {
    "html": ({"index.html": "<h1>hello from html</h1>"}, "hello from html"),
    "python": (
        {
            "main.py": (
                "import http.server, os\n"
                "class H(http.server.BaseHTTPRequestHandler):\n"
                "    def do_GET(self):\n"
                "        self.send_response(200); self.end_headers()\n"
                "        self.wfile.write(b'hello from python')\n"
                "http.server.HTTPServer(('', int(os.environ['PORT'])), H).serve_forever()\n"
            )
        },
        "hello from python",
    ),
    "javascript": (
        {
            "index.js": (
                "require('http').createServer((q, r) => r.end('hello from node'))"
                ".listen(process.env.PORT)\n"
            )
        },
        "hello from node",
    ),
}


def test_the_catalogue_names_every_required_runtime() -> None:
    catalogue = load_runtimes()
    assert {"html", "python", "javascript"} <= set(catalogue)
    assert catalogue["html"].build["from"] == "busybox"


def test_a_broken_catalogue_says_which_runtime(tmp_path: Path) -> None:
    bad = tmp_path / "runtimes.toml"
    bad.write_text('[ruby]\nimage = "x"\nport = 0\ncommand = []\nmemory = "lots"\n')
    with pytest.raises(CatalogueError, match="ruby"):
        load_runtimes(bad)


@pytest.fixture(scope="module")
def built(runtime_images: str) -> str:
    return runtime_images


def test_runtimes_build_reports_each_image(runtime_images: str) -> None:
    done = run_collab("runtimes", "build", "html", env={"COLLAB_DOCKER_HOST": runtime_images})
    assert done.returncode == 0 and done.stdout.startswith("built collab-runtime-html:1")
    unknown = run_collab("runtimes", "build", "cobol", env={"COLLAB_DOCKER_HOST": runtime_images})
    assert unknown.returncode == 2 and "cobol" in unknown.stderr


@pytest.fixture
async def containers(built: str) -> AsyncIterator[Containers]:
    engine = DockerEngine(built)
    yield Containers(engine)
    engine.close()


async def wait_for_http(address: str, port: int, timeout: float = 30) -> str:
    def get() -> str:
        with urllib.request.urlopen(f"http://{address}:{port}/", timeout=2) as response:
            return str(response.read().decode())

    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await asyncio.to_thread(get)
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


@pytest.mark.parametrize("name", sorted(APPS))
async def test_each_runtime_serves_the_session_files(containers: Containers, name: str) -> None:
    runtime = load_runtimes()[name]
    files, expected = APPS[name]
    started = await containers.start(ContainerSpec(runtime, f"test-{uuid.uuid4().hex[:8]}", files))
    try:
        # Reached on its own network, at its address there: nothing is published on the host.
        assert expected in await wait_for_http(started.address, runtime.port)
    finally:
        await containers.remove(started.container_id)


async def test_containers_are_hardened(containers: Containers, built: str) -> None:
    runtime = load_runtimes()["html"]
    deployment = f"test-{uuid.uuid4().hex[:8]}"
    started = await containers.start(ContainerSpec(runtime, deployment, {"index.html": "x"}))
    container_id = started.container_id
    client = docker.DockerClient(base_url=built)
    try:
        attrs = await containers.inspect(container_id)
        host = attrs["HostConfig"]
        assert host["CapDrop"] == ["ALL"]
        assert "no-new-privileges" in host["SecurityOpt"]
        assert host["ReadonlyRootfs"] is True
        assert (host["Memory"], host["PidsLimit"], host["NanoCpus"]) == (
            runtime.memory_bytes,
            runtime.pids,
            int(runtime.cpus * 1e9),
        )
        assert attrs["Config"]["User"] == "65534:65534"
        assert attrs["Config"]["Labels"][LABEL_DEPLOYMENT] == deployment
        assert not host["PortBindings"]  # no host port: the server dials its address
        [network] = attrs["NetworkSettings"]["Networks"]
        assert network == NETWORK_PREFIX + deployment
        assert client.networks.get(network).attrs["Internal"] is True  # egress `none`
        container = client.containers.get(container_id)
        assert container.exec_run(["/bin/sh", "-c", "touch /etc/x"]).exit_code != 0
        assert container.exec_run(["/bin/sh", "-c", "touch /app/ok /tmp/ok"]).exit_code == 0
        assert container.exec_run(["/bin/sh", "-c", "id -u"]).output.strip() == b"65534"
    finally:
        await containers.remove(container_id)
    assert not client.containers.list(
        all=True, filters={"label": f"{LABEL_DEPLOYMENT}={deployment}"}
    )
    assert not client.volumes.list(filters={"label": f"{LABEL_DEPLOYMENT}={deployment}"})
    assert not client.networks.list(filters={"label": f"{LABEL_DEPLOYMENT}={deployment}"})
    client.close()


async def test_the_host_is_not_reachable_from_inside(containers: Containers, built: str) -> None:
    """The Docker socket, PostgreSQL and Redis (unix sockets) are not in the container, and
    a server of the host listening on the bridge's gateway address itself (as a server bound
    to 0.0.0.0 does) does not answer it: the host's firewall drops what the container opens."""
    runtime = load_runtimes()["html"]
    deployment = f"iso-{uuid.uuid4().hex[:8]}"
    started = await containers.start(ContainerSpec(runtime, deployment, {"index.html": "x"}))
    container_id = started.container_id
    client = docker.DockerClient(base_url=built)
    container = client.containers.get(container_id)
    gateway = container.attrs["NetworkSettings"]["Networks"][NETWORK_PREFIX + deployment]["Gateway"]
    host_port = free_port()
    accepted: list[str] = []

    def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(str(writer.get_extra_info("peername")))
        writer.close()

    server = await asyncio.start_server(accept, gateway, host_port)
    try:
        for path in ("/var/run/docker.sock", "/run/collab-test-docker.sock", "/tmp/.s.PGSQL.5432"):
            assert container.exec_run(["/bin/busybox", "test", "-e", path]).exit_code != 0, path

        def connects(host: str, port: int) -> bool:
            command = f"echo | /bin/busybox nc -w 2 {host} {port}"
            code: int = container.exec_run(["/bin/sh", "-c", command]).exit_code
            return code == 0

        assert connects("127.0.0.1", runtime.port)  # nc works: the app's own port answers
        assert not connects(gateway, host_port)
        assert accepted == []
        # The host reaches the same port from its own side: the server was there to refuse.
        _, writer = await asyncio.open_connection(gateway, host_port)
        writer.close()
        await asyncio.sleep(0.1)
        assert len(accepted) == 1
        # Egress `none`: the network is internal and the container has no default route.
        routes = container.exec_run(["/bin/busybox", "cat", "/proc/net/route"]).output.decode()
        assert [line.split()[1] for line in routes.splitlines()[1:]] != []
        assert "00000000" not in [line.split()[1] for line in routes.splitlines()[1:]]
    finally:
        server.close()
        await containers.remove(container_id)
        client.close()
