"""The browser IDE: time from opening `/sessions/{id}?file=…` to an editable, synced editor.

Run by hand (needs Debian's chromium and the test extras):
    .venv/bin/python bench/editor_open.py [--runs 10] [--screenshot docs/img/two-people-editing.png]

Starts `collab serve` (embedded PostgreSQL and Redis) in a temporary folder, registers two
people in one session, then opens the session page `--runs` times in a logged-in browser
context and measures, per load, until `.cm-content` is editable, the file's stored text is
shown and the connection says "connected". The first load fetches the bundle (cold cache);
later ones reuse it, as a returning user does. With `--screenshot`, it also saves a picture
of two people editing the same file, each seeing the other's cursor.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.async_api import Page, async_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.browser_support import api, log_in, register, wait_editable  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.support import ServerProcess  # noqa: E402

TEXT = "def greet(name):\n    return f'hello {name}'\n\nprint(greet('world'))\n"


async def time_open(page: Page, url: str) -> float:
    started = time.perf_counter()
    await page.goto(url)
    await wait_editable(page)
    await page.locator(".cm-content", has_text="print(greet").wait_for()
    return (time.perf_counter() - started) * 1000


async def run(runs: int, screenshot: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp, ServerProcess(Path(tmp) / "data", {}) as server:
        base = server.url
        ada = await register(base, "ada")
        bob = await register(base, "bob")
        session = await api(
            base,
            "POST",
            "/api/sessions",
            ada["access_token"],
            {"name": "Demo", "language": "python"},
        )
        sid = session["session_id"]
        invitation = await api(
            base,
            "POST",
            f"/api/sessions/{sid}/invitations",
            ada["access_token"],
            {"role": "editor"},
        )
        await api(base, "POST", f"/api/join/{invitation['token']}", bob["access_token"])
        url = f"{base}/sessions/{sid}?file=main.py"
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            pages: list[Page] = []
            for name in ("ada", "bob"):
                context = await browser.new_context(viewport={"width": 1280, "height": 720})
                page = await context.new_page()
                await log_in(page, base, name, "/")
                pages.append(page)
            ada_page, bob_page = pages
            await ada_page.goto(url)
            await wait_editable(ada_page)
            await ada_page.locator(".cm-content").click()
            await ada_page.keyboard.type(TEXT, delay=2)

            # Cold: a new context, nothing cached (logging in first, as a person does).
            cold_context = await browser.new_context()
            cold = await cold_context.new_page()
            await log_in(cold, base, "bob", "/profile")
            cold_ms = await time_open(cold, url)
            await cold_context.close()
            warm = [await time_open(bob_page, url) for _ in range(runs)]
            print(f"{'load':<28}{'median ms':>10}{'min ms':>10}{'max ms':>10}{'runs':>6}")
            print(
                f"{'first (cold cache)':<28}{cold_ms:>10.0f}{cold_ms:>10.0f}{cold_ms:>10.0f}{1:>6}"
            )
            print(
                f"{'again (cached bundle)':<28}{statistics.median(warm):>10.0f}"
                f"{min(warm):>10.0f}{max(warm):>10.0f}{runs:>6}"
            )
            if screenshot is not None:
                await bob_page.locator(".cm-content").click()
                await bob_page.keyboard.press("Control+End")
                await bob_page.keyboard.type("\n# bob: let's add a docstring", delay=20)
                # bob selects the call on line 4; ada looks at his cursor (its label shows).
                await bob_page.locator(".cm-line").nth(3).click()
                await bob_page.keyboard.press("End")
                await bob_page.keyboard.press("Shift+Home")
                await ada_page.wait_for_timeout(500)
                await ada_page.hover(".cm-ySelectionCaret")
                await ada_page.wait_for_timeout(500)
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                await ada_page.screenshot(path=str(screenshot))
                print(f"screenshot: {screenshot}")
            await browser.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--screenshot", type=Path)
    args: Any = parser.parse_args(argv)
    asyncio.run(run(args.runs, args.screenshot))


if __name__ == "__main__":
    main()
