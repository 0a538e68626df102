"""Deployments need a real Docker Engine with the catalogue's images built.

Every app of this folder listens on the port its settings name, so a deployment's URL
(`http://{deployment_id}.localhost:{port}/`) is where its preview really is: a test browses
it as a browser does, resolving `*.localhost` to loopback (`deploy_support.browser`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker
import pytest

from collab.app import build_app
from tests.conftest import make_settings
from tests.support import Client, free_port


@pytest.fixture
async def make_client(
    database_url: str, clean_redis: str, tmp_path: Path, aiohttp_client: Any
) -> Any:
    """Build a client for an app with some settings changed, on the port it is told."""

    async def make(**overrides: Any) -> Client:
        port = free_port()
        settings = make_settings(
            database_url, clean_redis, tmp_path, **({"port": port} | overrides)
        )
        made: Client = await aiohttp_client(build_app(settings), server_kwargs={"port": port})
        return made

    return make


def swarm_manager(docker_host: str) -> None:
    """The tests' own dockerd as a single-node swarm (advertised on loopback only)."""
    engine = docker.DockerClient(base_url=docker_host)
    try:
        if engine.info()["Swarm"]["LocalNodeState"] != "active":
            engine.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
    finally:
        engine.close()


@pytest.fixture
def engine(runtime_images: str, request: Any) -> str:
    """The deployment engine a test runs on (`docker` unless parametrised): tests of both
    engines say `@pytest.mark.parametrize("engine", ENGINES, indirect=True)` and get
    `client` on it, or pass `deploy_engine=engine` to `make_client` themselves."""
    name: str = getattr(request, "param", "docker")
    if name == "swarm":
        swarm_manager(runtime_images)
    return name


@pytest.fixture
async def client(make_client: Any, runtime_images: str, engine: str) -> Client:
    """The app with Docker, on `engine`: every test of this folder that uses `client` deploys."""
    client: Client = await make_client(
        docker_host=runtime_images, deploy_start_timeout_seconds=15, deploy_engine=engine
    )
    return client


# The engines the core tests (lifecycle, preview, stop, archive, isolation, reconcile, idle and
# lifetime stops, terminal) run on.
ENGINES = ["docker", "swarm"]
