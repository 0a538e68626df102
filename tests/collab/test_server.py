"""The real `collab serve`, started as a user starts it, probed over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import asyncpg
import pytest
from aiohttp import ClientSession

from collab.embedded import EmbeddedRedis
from tests.support import TEST_SECRET, ServerProcess, http_get, run_collab


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited but is not yet reaped; it counts as gone.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def _wait_gone(pid: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.integration
async def test_zero_config_serve_keeps_data_and_stops_what_it_started(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {"COLLAB_SECRET_KEY": TEST_SECRET}
    with ServerProcess(data_dir, env) as server:
        status, body = http_get(f"{server.url}/readyz")
        assert (status, body["checks"]) == (200, {"postgres": "ok", "redis": "ok"})
        pg_pid = int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
        redis_pid = int((data_dir / "redis" / "redis.pid").read_text())
        conn = await asyncpg.connect(
            f"postgresql://postgres@/postgres?host={data_dir / 'postgres'}"
        )
        await conn.execute(
            "INSERT INTO users (email, username, password_hash) VALUES ('kept@x.org', 'kept', 'h')"
        )
        await conn.close()
    assert server.proc is not None and server.proc.returncode == 0, server.logs()
    assert _wait_gone(pg_pid), "Ctrl-C left PostgreSQL running"
    assert _wait_gone(redis_pid), "Ctrl-C left Redis running"

    with ServerProcess(data_dir, env) as again:
        assert http_get(f"{again.url}/readyz")[0] == 200
        conn = await asyncpg.connect(
            f"postgresql://postgres@/postgres?host={data_dir / 'postgres'}"
        )
        assert await conn.fetchval("SELECT count(*) FROM users WHERE username = 'kept'") == 1
        await conn.close()


@pytest.mark.integration
def test_two_servers_share_one_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {"COLLAB_SECRET_KEY": TEST_SECRET}
    with ServerProcess(data_dir, env) as first:
        with ServerProcess(data_dir, env) as second:
            assert http_get(f"{second.url}/readyz")[0] == 200
        # The second leaving must not stop the servers the first still uses.
        assert http_get(f"{first.url}/readyz")[0] == 200


def test_external_urls_start_nothing_embedded(tmp_path: Path, external_env: dict[str, str]) -> None:
    with ServerProcess(tmp_path / "data", external_env) as server:
        assert http_get(f"{server.url}/readyz")[0] == 200
    assert not (tmp_path / "data" / "postgres").exists()
    assert not (tmp_path / "data" / "redis").exists()


def test_readyz_turns_503_naming_redis_when_it_stops(tmp_path: Path, database_url: str) -> None:
    redis = EmbeddedRedis(tmp_path / "own-redis")
    env = {
        "COLLAB_DATABASE_URL": database_url,
        "COLLAB_REDIS_URL": redis.start(),
        "COLLAB_SECRET_KEY": TEST_SECRET,
    }
    try:
        with ServerProcess(tmp_path / "data", env) as server:
            assert http_get(f"{server.url}/readyz")[0] == 200
            redis.stop()
            status, body = http_get(f"{server.url}/readyz")
            assert status == 503
            assert body["error"]["code"] == "unavailable"
            assert "redis" in body["error"]["message"]
            assert body["error"]["details"]["postgres"] == "ok"
            assert body["error"]["details"]["redis"] != "ok"
            assert http_get(f"{server.url}/healthz")[0] == 200  # alive, just not ready

            redis.start()
            assert http_get(f"{server.url}/readyz")[0] == 200  # recovers by itself
    finally:
        redis.stop()


def test_readyz_names_docker_when_it_does_not_answer(
    tmp_path: Path, external_env: dict[str, str]
) -> None:
    env = {**external_env, "COLLAB_DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    with ServerProcess(tmp_path / "data", env) as server:
        status, body = http_get(f"{server.url}/readyz")
    assert status == 503
    assert body["error"]["message"] == "docker is not answering"


def test_readyz_checks_a_real_docker_engine(
    tmp_path: Path, external_env: dict[str, str], docker_host: str
) -> None:
    env = {**external_env, "COLLAB_DOCKER_HOST": docker_host}
    with ServerProcess(tmp_path / "data", env) as server:
        status, body = http_get(f"{server.url}/readyz")
    assert (status, body["checks"]["docker"]) == (200, "ok")


async def test_errors_have_the_contract_shape(tmp_path: Path, external_env: dict[str, str]) -> None:
    with ServerProcess(tmp_path / "data", external_env) as server:
        async with ClientSession() as http:
            # Page paths belong to the web app (its router shows "not found"); the API's
            # unknown routes answer in the contract's shape.
            async with http.get(f"{server.url}/no/such/page") as response:
                assert response.status == 200 and response.content_type == "text/html"
            async with http.get(f"{server.url}/api/no/such/route") as response:
                assert response.status == 404
                assert await response.json() == {
                    "error": {"code": "not_found", "message": "No such resource."}
                }
                assert response.headers["X-Request-ID"]
            async with http.delete(f"{server.url}/healthz") as response:
                assert response.status == 405
                assert (await response.json())["error"]["code"] == "method_not_allowed"


async def test_json_logs_carry_the_request_id(tmp_path: Path, external_env: dict[str, str]) -> None:
    env = {**external_env, "COLLAB_LOG_FORMAT": "json"}
    server = ServerProcess(tmp_path / "data", env).start()
    try:
        async with ClientSession() as http:
            headers = {"X-Request-ID": "trace-me-123"}
            async with http.get(f"{server.url}/healthz", headers=headers) as response:
                assert response.headers["X-Request-ID"] == "trace-me-123"
        await asyncio.sleep(0.2)
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    assert any(
        entry["request_id"] == "trace-me-123" and "/healthz" in entry["message"] for entry in lines
    ), server.logs()


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (None, "COLLAB_ENV=production needs COLLAB_SECRET_KEY"),
        ("changeme", "at least 32 bytes"),
    ],
)
@pytest.mark.integration
def test_production_refuses_generated_or_default_secrets(
    tmp_path: Path, secret: str | None, reason: str
) -> None:
    env = {
        "COLLAB_ENV": "production",
        "COLLAB_DATA_DIR": str(tmp_path),
        "COLLAB_PREVIEW_DOMAIN": "example-preview.net",
    }
    if secret is not None:
        env["COLLAB_SECRET_KEY"] = secret
    done = run_collab("serve", env=env)
    assert done.returncode == 2
    assert "refusing to start" in done.stderr and reason in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "postgres").exists()  # refused before starting anything


def test_production_needs_a_preview_domain_of_its_own(tmp_path: Path) -> None:
    env = {"COLLAB_ENV": "production", "COLLAB_DATA_DIR": str(tmp_path)}
    done = run_collab("serve", env=env | {"COLLAB_SECRET_KEY": "x" * 40})
    assert done.returncode == 2
    assert "COLLAB_PREVIEW_DOMAIN" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "postgres").exists()


def test_development_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    from collab.signing_keys import load_signing_keys
    from config import Settings

    first = load_signing_keys(Settings(data_dir=tmp_path))
    second = load_signing_keys(Settings(data_dir=tmp_path))
    assert first.current == second.current and len(first.current) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_sigterm_also_stops_cleanly(tmp_path: Path, external_env: dict[str, str]) -> None:
    server = ServerProcess(tmp_path / "data", external_env).start()
    assert server.stop(signal.SIGTERM) == 0, server.logs()
