"""A person typing in the browser IDE faster than the socket's budget: the refusal
(`sync-error` `rate_limited`) is shown, and without a reload or a reconnect the server takes
the refused keystrokes back (its `sync-step-1` a second later, collab/realtime/resync.py)
and the notice goes away (web/src/editor/document.ts)."""

from __future__ import annotations

import asyncio
import string
from pathlib import Path
from typing import Any

from playwright.async_api import Page, WebSocket, expect

from tests.e2e.browser_support import (
    editor_text,
    log_in,
    type_into_editor,
    wait_editable,
    wait_for_text,
)
from tests.e2e.test_editing import open_file, shared_session
from tests.faults.support import stored_text
from tests.support import ServerProcess

RATE = 3  # document messages a socket may send a second, bursts of twice that
SHOTS = Path("/tmp/r4-shots")


async def _stored(database_url: str, session_id: str, expected: str) -> str:
    """What PostgreSQL holds of main.py once it is `expected`, or after a few seconds."""
    text = ""
    for _ in range(50):
        text = await stored_text(database_url, session_id, "main.py")
        if text == expected:
            break
        await asyncio.sleep(0.1)
    return text


async def test_keystrokes_refused_over_the_budget_come_back_and_the_notice_goes(
    tmp_path: Path, external_env: dict[str, str], database_url: str, new_context: Any
) -> None:
    env = {**external_env, "COLLAB_SOCKET_MESSAGES_PER_SECOND": str(RATE)}
    with ServerProcess(tmp_path / "server", env) as server:
        base = server.url
        session_id, _ = await shared_session(base, {"vic": "viewer"})
        page: Page = await (await new_context()).new_page()
        await page.set_viewport_size({"width": 1280, "height": 800})
        sockets: list[WebSocket] = []  # every WebSocket the page opens: a reconnect adds one
        page.on("websocket", lambda ws: sockets.append(ws))
        await log_in(page, base, "ada", f"/sessions/{session_id}?file=main.py")
        await wait_editable(page)
        await type_into_editor(page, "# ok\n", delay=500)  # within the budget: no refusal
        notice = page.get_by_test_id("sync-error")
        assert await notice.count() == 0
        viewer = await open_file(new_context, base, "vic", session_id)
        await wait_for_text(viewer, "# ok\n")
        before = list(sockets)
        assert before, "the page's sockets are not WebSockets: a reconnect would go unseen"
        burst = string.ascii_letters[:40]  # 40 keystrokes against a burst of 6 messages
        await type_into_editor(page, burst, delay=0)
        expected = "# ok\n" + burst
        await expect(notice).to_contain_text("Too many messages", timeout=5_000)
        SHOTS.mkdir(exist_ok=True)
        await page.screenshot(path=SHOTS / "notice-shown.png")
        # Refused, not stored (the server asks for it back only a second after the refusal).
        assert await stored_text(database_url, session_id, "main.py") != expected

        # Asked back a second after the refusal, shown as taken 3 s after the ask.
        await expect(notice).to_have_count(0, timeout=10_000)
        await page.screenshot(path=SHOTS / "notice-cleared.png")
        assert await editor_text(page) == expected  # every keystroke kept
        assert await _stored(database_url, session_id, expected) == expected
        await wait_for_text(viewer, expected)
        # Without a reconnect: the page's sockets are the ones it had, all open.
        await expect(page.get_by_test_id("connection")).to_have_text("connected")
        assert sockets == before, [ws.url for ws in sockets[len(before) :]]
        assert not [ws.url for ws in sockets if ws.is_closed()]
