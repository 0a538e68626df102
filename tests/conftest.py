"""Shared fixtures: one real PostgreSQL cluster and one real Redis for the whole run.

Each test gets a database of its own (created empty, dropped afterwards) and a flushed
Redis, so tests never see each other's data. Nothing here is a mock: the app under test
talks to the same servers `collab serve` would start.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis as sync_redis
from aiohttp import web

from collab.app import build_app
from collab.embedded import EmbeddedPostgres, EmbeddedRedis
from config import Settings
from containers.engine import DockerEngine
from tests.live_support import LiveSession, live_session, start_agent
from tests.node_agent import NodeAgent
from tests.support import TEST_SECRET, Client, ServerProcess, database_url_with_name
from tests.webhooks.receiver import Receiver


@pytest.fixture(scope="session")
def pg_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    postgres = EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
    url = postgres.start()
    yield url
    postgres.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    redis = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    url = redis.start()
    yield url
    redis.stop()


@pytest.fixture
async def database_url(pg_cluster_url: str) -> AsyncIterator[str]:
    """A fresh, empty database for this test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_cluster_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield database_url_with_name(pg_cluster_url, name)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def clean_redis(redis_url: str) -> str:
    client = sync_redis.Redis.from_url(redis_url)
    client.flushall()
    client.close()
    return redis_url


@pytest.fixture
def settings(database_url: str, clean_redis: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, clean_redis, tmp_path)


def make_settings(database_url: str, redis_url: str, data_dir: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "secret_key": TEST_SECRET,
        "database_url": database_url,
        "redis_url": redis_url,
        "data_dir": data_dir,
    }
    return Settings(**(values | extra))


@pytest.fixture
async def app(settings: Settings) -> web.Application:
    return build_app(settings)


@pytest.fixture
async def client(app: web.Application, aiohttp_client: Any) -> Client:
    # `app` (and through it the test database) first, so the app shuts down before the
    # database is dropped: fixtures are torn down in reverse order.
    made: Client = await aiohttp_client(app)
    return made


@pytest.fixture
async def db(database_url: str, client: Client) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the test database, after the app has migrated it."""
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


@pytest.fixture(scope="session")
def docker_host() -> str:
    """A real Docker Engine: `scripts/test` starts one and names it in COLLAB_TEST_DOCKER_HOST."""
    import os

    host = os.environ.get("COLLAB_TEST_DOCKER_HOST")
    if not host:
        pytest.skip("COLLAB_TEST_DOCKER_HOST is not set; `scripts/test` starts dockerd and sets it")
    return host


@pytest.fixture
async def make_client(
    database_url: str, clean_redis: str, tmp_path: Path, aiohttp_client: Any
) -> Any:
    """Build a client for an app with some settings changed."""

    async def make(**overrides: Any) -> Client:
        made: Client = await aiohttp_client(
            build_app(make_settings(database_url, clean_redis, tmp_path, **overrides))
        )
        return made

    return make


@pytest.fixture(scope="session")
def runtime_images(docker_host: str) -> str:
    """Every catalogue image, built as an operator builds them (`collab runtimes build`)."""
    from tests.support import run_collab

    done = run_collab("runtimes", "build", env={"COLLAB_DOCKER_HOST": docker_host})
    assert done.returncode == 0, done.stderr
    return docker_host


# -- fixtures shared by several folders (each was copied into up to six test modules) --------


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A loopback webhook receiver that records what it is sent."""
    made = await Receiver().start()
    yield made
    await made.stop()


@pytest.fixture
async def agent() -> AsyncIterator[NodeAgent]:
    """Real npm Yjs clients (yjs, y-socket.io, socket.io-client) in one Node process."""
    node = await start_agent()
    yield node
    await node.stop()


@pytest.fixture
async def live(client: Client) -> LiveSession:
    """A session with an owner, an editor and a viewer."""
    return await live_session(client)


@pytest.fixture
def external_env(database_url: str, clean_redis: str) -> dict[str, str]:
    """The environment of a `collab serve` process that uses this test's database and Redis."""
    return {
        "COLLAB_DATABASE_URL": database_url,
        "COLLAB_REDIS_URL": clean_redis,
        "COLLAB_SECRET_KEY": TEST_SECRET,
    }


# -- `pytest -m unit`: the tests that need no PostgreSQL, Redis, Docker, Node or server -------

# Every server, database, Docker Engine or Node process a test can get comes through one of
# these fixtures; a test whose fixture closure holds none of them is a unit test.
INFRASTRUCTURE = frozenset({"pg_cluster_url", "redis_url", "docker_host", "agent"})


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        needs = INFRASTRUCTURE.intersection(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("unit") is not None and needs:
            raise pytest.UsageError(f"{item.nodeid} is marked unit but uses {sorted(needs)}")
        if not needs and item.get_closest_marker("integration") is None:
            item.add_marker(pytest.mark.unit)


@pytest.fixture(autouse=True)
def _unit_tests_start_nothing(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit test that starts a server by hand fails at once, saying how to mark it."""
    if request.node.get_closest_marker("unit") is None:
        return

    def refuse(what: str) -> Any:
        def start(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(
                f"{request.node.nodeid} starts {what}: mark it @pytest.mark.integration "
                "or take the server from a fixture"
            )

        return start

    monkeypatch.setattr(ServerProcess, "start", refuse("`collab serve`"))
    monkeypatch.setattr(EmbeddedPostgres, "start", refuse("PostgreSQL"))
    monkeypatch.setattr(EmbeddedRedis, "start", refuse("Redis"))
    monkeypatch.setattr(NodeAgent, "start", refuse("Node"))
    monkeypatch.setattr(DockerEngine, "__init__", refuse("a Docker client"))
