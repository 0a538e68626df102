"""Events on `/` sent with more values than they take (a Socket.IO client may send any
number): each raised a TypeError inside python-socketio, logged as a traceback, and the
acknowledgement never came. The document events already took extra values."""

from __future__ import annotations

import logging

import pytest

from tests.live_support import LiveSession
from tests.realtime.test_fast_path_hostile import tracebacks
from tests.realtime.test_socket_handshake import connect
from tests.support import Client


async def test_extra_values_are_ignored_and_answered(
    client: Client, live: LiveSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    sio = await connect(client, live.viewer.token)
    try:
        join = {"session_id": live.session_id}
        answer = await sio.call("session:join", (join, "extra", 3), timeout=5)
        assert answer["ok"] is True, answer
        answer = await sio.call("terminal:list", (join, None), timeout=5)
        assert answer == {"ok": True, "terminals": []}
        answer = await sio.call("terminal:close", ({"terminal_id": "x"}, 1), timeout=5)
        assert answer["ok"] is False and answer["error"]["code"] == "validation_failed"
        answer = await sio.call("session:leave", (join, [1]), timeout=5)
        assert answer == {"ok": True}
        # And with no value at all.
        answer = await sio.call("session:join", timeout=5)
        assert answer["ok"] is False and answer["error"]["code"] == "validation_failed"
    finally:
        await sio.disconnect()
    assert not tracebacks(caplog)
