"""Graceful shutdown: SIGTERM to one of two `collab serve` processes behind a load balancer
while npm y-socket.io clients edit through both.

What must hold: the stopped process exits 0 within COLLAB_SHUTDOWN_TIMEOUT_SECONDS, having
ended every connection so that its clients reconnected (on their own: a transport close)
to the other process; every client converges; and the document stored (read by a process
started afterwards) is exactly what every client shows, holding every edit each typed.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from pathlib import Path

import aiohttp
import pytest

from tests.cluster_support import api, setup_session
from tests.faults.drain_support import RoundRobin
from tests.node_agent import NodeAgent
from tests.support import ServerProcess

pytestmark = pytest.mark.integration

SHUTDOWN_TIMEOUT = 8.0


def _tokens(text: str, prefix: str) -> list[int]:
    return [int(n) for n in re.findall(rf"<{prefix}(\d+)>", text)]


async def _converged(agent: NodeAgent, names: list[str], within: float) -> str:
    """The one text every client shows, once they all agree and are connected."""
    deadline = time.monotonic() + within
    texts: list[str] = []
    while time.monotonic() < deadline:
        texts = [await agent.call("text", name=n) for n in names]
        connected = [await agent.call("connected", name=n) for n in names]
        if len(set(texts)) == 1 and all(connected):
            return texts[0]
        await asyncio.sleep(0.2)
    raise AssertionError(f"clients did not converge: {[len(t) for t in texts]}")


async def test_sigterm_drains_to_the_other_process_and_loses_nothing(
    tmp_path: Path, external_env: dict[str, str], agent: NodeAgent
) -> None:
    env = external_env | {"COLLAB_SHUTDOWN_TIMEOUT_SECONDS": str(SHUTDOWN_TIMEOUT)}
    a = ServerProcess(tmp_path / "a", env).start()
    b = ServerProcess(tmp_path / "b", env).start()
    balancer = await RoundRobin([("127.0.0.1", a.port), ("127.0.0.1", b.port)]).start()
    names = [f"c{i}" for i in range(6)]
    try:
        async with aiohttp.ClientSession() as http:
            session_id, owner, editor = await setup_session(http, balancer.url)
        room = f"{session_id}/main.py"
        for i, name in enumerate(names):
            token = (owner if i % 2 else editor).token
            joined = await agent.call(
                "connect", name=name, url=balancer.url, room=room, token=token
            )
            assert joined["synced"], joined
        assert balancer.live[a.port] >= 2 and balancer.live[b.port] >= 2, balancer.live
        for name in names:
            await agent.call("startTyping", name=name, prefix=name, intervalMs=15)
        await asyncio.sleep(1.5)

        # A process manager stops `a` mid-edit.
        stopped_at = time.monotonic()
        a.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        code = await asyncio.get_running_loop().run_in_executor(None, a.proc.wait)  # type: ignore[union-attr]
        took = time.monotonic() - stopped_at
        assert code == 0, a.logs()
        assert took < SHUTDOWN_TIMEOUT, f"drain took {took:.1f}s"

        await asyncio.sleep(1.5)  # the clients keep typing, now all through `b`
        for name in names:
            await agent.call("stopTyping", name=name)
        shown = await _converged(agent, names, within=20)
        assert balancer.live[a.port] == 0 and balancer.live[b.port] >= len(names), balancer.live
    except BaseException:
        b.stop()
        raise
    finally:
        a.stop()
        await balancer.stop()

    # Every client's own edits are all there, in order, none missing.
    for name in names:
        typed = _tokens(shown, name)
        assert len(typed) > 20, (name, len(typed))
        assert typed == list(range(len(typed))), name

    # `b` drains too; a fresh process reads what is stored: exactly what the clients show.
    assert b.stop(signal.SIGTERM) == 0, b.logs()
    with ServerProcess(tmp_path / "reader", external_env) as reader:
        async with aiohttp.ClientSession() as http:
            stored = await api(
                http, "GET", f"{reader.url}/api/sessions/{session_id}/files/main.py", owner.token
            )
    assert stored == shown

    drained = a.logs()
    assert re.search(r"drain: ended [3-9]\d* Socket\.IO connection", drained), drained
    for log in (drained, b.logs()):
        assert "Traceback" not in log and " ERROR " not in log, log
