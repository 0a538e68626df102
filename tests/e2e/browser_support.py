"""What the end-to-end tests do in a browser, in the product's words."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from playwright.async_api import ConsoleMessage, Error, Page, expect

PASSWORD = "Correct-Horse-7-Battery"


@dataclass
class ConsoleWatch:
    """Every console error, uncaught exception and CSP violation of every watched page."""

    problems: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: {error}"))

    def _console(self, page: Page, message: ConsoleMessage) -> None:
        text = message.text
        if message.location.get("url", "").endswith("/favicon.ico"):
            return  # a deployed app without an icon: the app's own business
        if message.type == "error" or "Content Security Policy" in text:
            source = message.location.get("url", "")  # for a failed load: the resource
            self.problems.append(f"{page.url}: [{message.type}] {text} ({source})")

    def allow(self, pattern: str) -> None:
        """Forget problems a test caused on purpose (e.g. a refused cross-origin fetch)."""
        self.problems = [p for p in self.problems if not re.search(pattern, p)]

    def assert_clean(self) -> None:
        assert not self.problems, "browser console problems:\n" + "\n".join(self.problems)


async def api(base: str, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, base + path, json=body, headers=headers) as response,
    ):
        assert response.status < 300, f"{method} {path}: {response.status} {await response.text()}"
        if response.content_type == "application/json":
            return await response.json()
        return await response.text()


async def register(base: str, name: str) -> dict[str, Any]:
    pair: dict[str, Any] = await api(
        base,
        "POST",
        "/api/auth/register",
        body={"email": f"{name}@example.org", "username": name, "password": PASSWORD},
    )
    return pair


async def log_in(page: Page, base: str, name: str, next_path: str = "/") -> None:
    """Through the log-in form, as a person does; lands on `next_path`."""
    await page.goto(f"{base}/login?next={next_path}")
    await page.fill("input[name=login]", name)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: "/login" not in url)


async def editor_text(page: Page) -> str:
    """The document as the editor shows it: its lines, without the remote cursors' widgets."""
    text: str = await page.evaluate(
        r"""() => [...document.querySelectorAll(".cm-content .cm-line")].map((line) => {
            const copy = line.cloneNode(true);
            const widgets = copy.querySelectorAll(".cm-ySelectionCaret, .cm-widgetBuffer");
            widgets.forEach((w) => w.remove());
            return copy.textContent.replace(/[\u200b\u2060]/g, "");
        }).join("\n")"""
    )
    return text


async def wait_for_text(page: Page, expected: str, timeout: float = 10.0) -> None:
    """Until the editor shows exactly `expected`."""
    shown = ""
    for _ in range(int(timeout / 0.1)):
        shown = await editor_text(page)
        if shown == expected:
            return
        await page.wait_for_timeout(100)
    raise AssertionError(f"the editor shows {shown!r}, not {expected!r}")


async def wait_editable(page: Page) -> None:
    await expect(page.locator(".cm-content[contenteditable=true]")).to_be_visible(timeout=20_000)
    await expect(page.get_by_test_id("connection")).to_have_text(
        re.compile("connected", re.I), timeout=20_000
    )


async def type_into_editor(page: Page, text: str, delay: float = 15) -> None:
    await page.locator(".cm-content").click()
    await page.keyboard.press("Control+End")
    await page.keyboard.type(text, delay=delay)


async def fetch_status(page: Page, url: str) -> str:
    """What a script on `page` gets from a credentialed fetch of `url`."""
    try:
        result: str = await page.evaluate(
            """async (url) => {
                try {
                    const r = await fetch(url, {credentials: "include"});
                    return "status " + r.status + " " + (await r.text()).slice(0, 200);
                } catch (e) { return "blocked"; }
            }""",
            url,
        )
    except Error as exc:
        return f"error {exc}"
    return result
