"""Terminal events carry JSON text, and JSON may escape a lone UTF-16 surrogate
(`"\\ud800"`), which Python decodes into a string it cannot encode to UTF-8. `terminal:input`
encoded its data before anything else: any logged-in socket got no answer (its
acknowledgement never came) and the server logged a traceback for every such message."""

from __future__ import annotations

import logging
import uuid

import pytest

from tests.live_support import LiveSession
from tests.realtime.test_fast_path_hostile import tracebacks
from tests.realtime.test_socket_handshake import connect
from tests.support import Client


async def test_text_that_is_not_unicode_is_refused_with_an_answer(
    client: Client, live: LiveSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    sio = await connect(client, live.editor.token)
    try:
        join = await sio.call("session:join", {"session_id": live.session_id}, timeout=5)
        assert join["ok"], join
        terminal = str(uuid.uuid4())
        answer = await sio.call(
            "terminal:input", {"terminal_id": terminal, "data": "ls\ud800"}, timeout=5
        )
        assert answer["ok"] is False and answer["error"]["code"] == "validation_failed", answer
        for event, data in (
            ("terminal:open", {"deployment_id": "\ud800"}),
            ("terminal:resize", {"terminal_id": "\udfff", "cols": 80, "rows": 24}),
            ("terminal:close", {"terminal_id": "\ud800"}),
            ("terminal:list", {"session_id": "\ud800"}),
            ("session:join", {"session_id": "\ud800"}),
            ("session:leave", {"session_id": "\ud800"}),
        ):
            answer = await sio.call(event, data, timeout=5)
            assert answer["ok"] is False, (event, answer)
    finally:
        await sio.disconnect()
    assert not tracebacks(caplog)
