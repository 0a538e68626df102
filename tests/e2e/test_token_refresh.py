"""The access token is refreshed before it expires, without reloading the editor."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from playwright.async_api import Request, expect

from tests.e2e.browser_support import (
    PASSWORD,
    api,
    editor_text,
    log_in,
    type_into_editor,
    wait_editable,
)
from tests.e2e.test_editing import shared_session, stored_text
from tests.support import ServerProcess

TTL_SECONDS = 30  # the shortest the server allows


async def test_a_long_edit_outlives_its_access_token(
    tmp_path: Path, external_env: dict[str, str], new_context: Any
) -> None:
    env = {**external_env, "COLLAB_ACCESS_TOKEN_TTL_SECONDS": str(TTL_SECONDS)}
    with ServerProcess(tmp_path / "server", env) as server:
        base = server.url
        session_id, _ = await shared_session(base, {})
        page = await (await new_context()).new_page()
        refreshes: list[Request] = []
        page.on(
            "request",
            lambda r: refreshes.append(r) if r.url.endswith("/api/auth/refresh") else None,
        )
        await log_in(page, base, "ada", f"/sessions/{session_id}?file=main.py")
        await wait_editable(page)
        await type_into_editor(page, "before expiry\n")
        await page.evaluate("window.notReloaded = true")

        await asyncio.sleep(TTL_SECONDS + 6)  # the first access token is dead by now
        assert refreshes, "the app did not refresh its access token"
        # Still the same page, still writing.
        await type_into_editor(page, "after expiry\n")
        # A reconnect presents a fresh token in the handshake.
        await page.context.set_offline(True)
        await expect(page.get_by_test_id("connection")).to_have_text(
            re.compile("offline|reconnecting", re.I), timeout=15_000
        )
        await type_into_editor(page, "while offline\n")
        await page.context.set_offline(False)
        await expect(page.get_by_test_id("connection")).to_have_text(
            re.compile(r"^\s*connected", re.I), timeout=20_000
        )
        assert await page.evaluate("window.notReloaded === true")
        expected = "before expiry\nafter expiry\nwhile offline\n"
        assert await editor_text(page) == expected
        # Everything reached the server (read with a fresh login: the test's own token died).
        fresh = await api(
            base, "POST", "/api/auth/login", body={"login": "ada", "password": PASSWORD}
        )
        for _ in range(50):
            if await stored_text(base, fresh["access_token"], session_id) == expected:
                break
            await asyncio.sleep(0.1)
        assert await stored_text(base, fresh["access_token"], session_id) == expected
        await page.context.close()  # before its server stops: no refused reconnects
