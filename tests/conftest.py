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
from aiohttp.test_utils import TestClient

from collab.app import build_app
from collab.embedded import EmbeddedPostgres, EmbeddedRedis
from config import Settings
from tests.support import database_url_with_name

TEST_SECRET = "test-secret-key-that-is-long-enough-for-production-0123456789"


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
    defaults: dict[str, Any] = {"secret_key": TEST_SECRET}
    return Settings(
        database_url=database_url, redis_url=redis_url, data_dir=data_dir, **(defaults | extra)
    )


@pytest.fixture
async def app(settings: Settings) -> web.Application:
    return build_app(settings)


@pytest.fixture
async def client(app: web.Application, aiohttp_client: Any) -> TestClient:  # type: ignore[type-arg]
    # `app` (and through it the test database) first, so the app shuts down before the
    # database is dropped: fixtures are torn down in reverse order.
    return await aiohttp_client(app)


@pytest.fixture
async def db(database_url: str, client: TestClient) -> AsyncIterator[asyncpg.Connection]:  # type: ignore[type-arg]
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

    async def make(**overrides: Any) -> TestClient:  # type: ignore[type-arg]
        return await aiohttp_client(
            build_app(make_settings(database_url, clean_redis, tmp_path, **overrides))
        )

    return make


@pytest.fixture(scope="session")
def runtime_images(docker_host: str) -> str:
    """Every catalogue image, built as an operator builds them (`collab runtimes build`)."""
    from tests.support import run_collab

    done = run_collab("runtimes", "build", env={"COLLAB_DOCKER_HOST": docker_host})
    assert done.returncode == 0, done.stderr
    return docker_host
