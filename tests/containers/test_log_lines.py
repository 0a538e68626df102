"""Live logs held an app's output in memory until it printed a newline. An app
that never does (a progress bar, `print(end="")`, binary noise) made the server's buffer
grow without bound and the session saw nothing; now a line is cut at `MAX_LINE_BYTES`."""

from __future__ import annotations

import asyncio

from containers.logs import MAX_LINE_BYTES
from tests.deploy_support import deploy, session_with_files, wait_status
from tests.node_agent import NodeAgent
from tests.session_support import socket_for
from tests.support import Client

APP = (
    "import http.server, os, sys\n"
    "for _ in range(8):\n"
    "    sys.stdout.write('x' * 65536); sys.stdout.flush()\n"
    "http.server.HTTPServer(('', int(os.environ['PORT'])),"
    " http.server.SimpleHTTPRequestHandler).serve_forever()\n"
)


async def test_output_without_newlines_reaches_the_session_in_bounded_lines(
    client: Client, agent: NodeAgent
) -> None:
    live = await session_with_files(client, agent, "python", {"main.py": APP}, "nl")
    sio, events = await socket_for(client, live.viewer)
    sio.on("deployment:log", lambda data: events.append(("deployment:log", data)))
    try:
        await sio.call("session:join", {"session_id": live.session_id})
        started = await deploy(client, live.owner, live)
        did = started["deployment_id"]
        assert (await wait_status(client, live.owner, did, "running", "failed"))[
            "status"
        ] == "running"
        total = 0
        lines: list[str] = []
        for _ in range(100):
            lines = [line for name, d in events if name == "deployment:log" for line in d["lines"]]
            total = sum(line.count("x") for line in lines)
            if total >= 8 * 65536:
                break
            await asyncio.sleep(0.1)
        # All of it (half a MiB: under the engine's log rotation, which may repeat records
        # to a follower), while the app still runs, and no line longer than the cap.
        assert total == 8 * 65536, (total, len(lines))
        assert max(len(line.encode()) for line in lines) <= MAX_LINE_BYTES
        await client.post(f"/api/deployments/{did}/stop", headers=live.owner.headers)
    finally:
        await sio.disconnect()


def test_an_unfinished_line_is_never_cut_inside_a_secret() -> None:
    from containers.environment import Masker
    from containers.logs import _pieces, _unfinished

    secret = "s3cr3t-VALUE-0123456789"
    masker = Masker([secret])
    for offset in range(0, 40):
        raw = ("a" * (MAX_LINE_BYTES - offset) + secret + "b" * 7).encode()
        shown, kept = _unfinished(raw, masker)
        text = "".join(shown)
        assert secret[:6] not in text, offset  # never a part of it
        assert masker(text + kept.decode()) == masker(raw.decode()) or secret in kept.decode()
        assert (text + kept.decode()).replace("***", secret) == raw.decode() or (
            "***" in text and text.replace("***", secret) + kept.decode() == raw.decode()
        )
    # A character still arriving is kept whole.
    raw = ("a" * MAX_LINE_BYTES).encode() + "é".encode()[:1]
    shown, kept = _unfinished(raw, Masker([]))
    assert "".join(shown) == "a" * MAX_LINE_BYTES and kept == "é".encode()[:1]
    # Pieces respect characters and the cap.
    pieces = _pieces("é" * MAX_LINE_BYTES)
    assert "".join(pieces) == "é" * MAX_LINE_BYTES
    assert all(len(p.encode()) <= MAX_LINE_BYTES for p in pieces)
