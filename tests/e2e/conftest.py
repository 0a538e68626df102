"""End-to-end fixtures: a real `collab serve` process and Debian's Chromium, driven by
Playwright (`executable_path=/usr/bin/chromium`, headless; no browser is ever downloaded).

Every page a test opens is watched: a console error, an uncaught exception or a CSP
violation anywhere fails the test at teardown (issue #10, proof 6).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, async_playwright

from tests.e2e.browser_support import ConsoleWatch
from tests.support import ServerProcess

CHROMIUM = "/usr/bin/chromium"
# Chromium's own background traffic is refused on this closed network; keep it quiet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium package")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


@pytest.fixture
def console() -> ConsoleWatch:
    return ConsoleWatch()


@pytest.fixture
async def new_context(browser: Browser, console: ConsoleWatch) -> AsyncIterator[Any]:
    """`await new_context()`: a fresh browser profile (its own cookies), every page watched."""
    contexts: list[BrowserContext] = []

    async def make() -> BrowserContext:
        context = await browser.new_context(viewport={"width": 1400, "height": 900})
        context.on("page", console.watch)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        await context.close()
    console.assert_clean()


@pytest.fixture
def server(tmp_path: Path, external_env: dict[str, str]) -> Any:
    with ServerProcess(tmp_path / "server", external_env) as process:
        yield process


@pytest.fixture
def deploy_server(tmp_path: Path, external_env: dict[str, str], runtime_images: str) -> Any:
    env = {**external_env, "COLLAB_DOCKER_HOST": runtime_images}
    with ServerProcess(tmp_path / "server", env) as process:
        yield process
