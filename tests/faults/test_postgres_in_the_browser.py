"""PostgreSQL stopped under a person typing in the browser IDE: the refusal is shown, and
once storage answers the edit is taken without a reload and the notice goes away."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from tests.e2e.browser_support import (
    api,
    editor_text,
    log_in,
    register,
    type_into_editor,
    wait_editable,
)
from tests.e2e.conftest import browser  # noqa: F401  (the fixture)
from tests.faults.services import OwnPostgres
from tests.faults.support import stored_text, wait_ready
from tests.support import ServerProcess

pytestmark = pytest.mark.integration


async def test_an_edit_refused_in_the_browser_is_taken_once_storage_answers(
    own_env: dict[str, str],
    own_postgres: OwnPostgres,
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    with ServerProcess(tmp_path / "server", own_env) as server:
        base = server.url
        alice = await register(base, "alice")
        session = await api(
            base,
            "POST",
            "/api/sessions",
            alice["access_token"],
            {"name": "S", "language": "python"},
        )
        session_id = session["session_id"]
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        try:
            page = await context.new_page()
            await log_in(page, base, "alice", f"/sessions/{session_id}?file=main.py")
            await wait_editable(page)
            await type_into_editor(page, "before = 1\n")
            await asyncio.sleep(1.0)

            await asyncio.to_thread(own_postgres.stop)
            await type_into_editor(page, "during = 2\n")
            notice = page.get_by_test_id("sync-error")
            await expect(notice).to_contain_text("could not be stored yet", timeout=10_000)

            await asyncio.to_thread(own_postgres.start)
            async with aiohttp.ClientSession() as http:
                await wait_ready(http, base, timeout=20)
            await expect(notice).to_have_count(0, timeout=15_000)  # taken: the notice goes
            assert await editor_text(page) == "before = 1\nduring = 2\n"
            for _ in range(100):
                if (
                    await stored_text(own_postgres.url, session_id, "main.py")
                    == "before = 1\nduring = 2\n"
                ):
                    break
                await asyncio.sleep(0.1)
            assert await stored_text(own_postgres.url, session_id, "main.py") == (
                "before = 1\nduring = 2\n"
            )
            await expect(page.get_by_test_id("connection")).to_have_text("connected")
        finally:
            await context.close()
