"""Deploys leave no descriptors behind (issue #15): a `collab serve` process that deploys
and stops an app again and again holds as many open descriptors afterwards as after its
first deploy. Each deploy talks to the Docker Engine over several distinct URLs and follows
the container's output on a stream; before this was fixed the SDK kept a connection pool
per URL and the ended log streams' sockets waited for the garbage collector, so the count
climbed by a few per deploy.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import psutil
import pytest

from bench.soak import deploy_once, write_app
from tests.cluster_support import setup_session
from tests.support import ServerProcess

pytestmark = pytest.mark.integration

DEPLOYS = 6
# A descriptor or two may be in flight (a request, a log file) when either count is read.
TOLERANCE = 2


def kinds(pid: int) -> dict[str, int]:
    """The process's descriptors by kind (`socket`, `pipe`, a file...): the failure's detail."""
    found: dict[str, int] = {}
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            kind = fd.readlink().name.split(":")[0]
        except OSError:
            continue  # closed while listed
        found[kind] = found.get(kind, 0) + 1
    return found


async def test_deploys_and_stops_leave_no_descriptors_behind(
    tmp_path: Path, external_env: dict[str, str], runtime_images: str
) -> None:
    env = {**external_env, "COLLAB_DOCKER_HOST": runtime_images}
    with ServerProcess(tmp_path / "server", env) as server:
        assert server.proc is not None
        process = psutil.Process(server.proc.pid)
        async with aiohttp.ClientSession() as http:
            session_id, owner, _ = await setup_session(http, server.url)
            await write_app(server.url, session_id, owner)
            # The first deploy fills what is filled once (the SDK client, the pools).
            first = await deploy_once(http, server.url, session_id, owner)
            assert first["status"] == "stopped", first
            before, before_kinds = process.num_fds(), kinds(process.pid)
            for _ in range(DEPLOYS):
                ended = await deploy_once(http, server.url, session_id, owner)
                assert ended["status"] == "stopped", ended
            after, after_kinds = process.num_fds(), kinds(process.pid)
    print(f"descriptors after the first deploy: {before}, after {DEPLOYS} more: {after}")
    assert after <= before + TOLERANCE, (before, after, before_kinds, after_kinds)
