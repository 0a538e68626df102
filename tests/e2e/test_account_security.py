"""Account security in the browser: two-factor enrolment and the code step at login, recovery
codes, API keys made in the UI and used from a script, ending another device's login, the
email-change link page, the data export and deleting the account."""

from __future__ import annotations

import asyncio
import json
import re
import time
from email import message_from_bytes
from pathlib import Path
from typing import Any

import aiohttp
import pyotp
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, Route, expect

from tests.e2e.browser_support import PASSWORD, api, log_in, register, wait_editable
from tests.oauth_standin import CLIENT_ID, CLIENT_SECRET, Account, StandIn
from tests.support import ServerProcess

# Chromium logs every 4xx a page's fetch gets as a console error; the tests below cause some
# on purpose (a wrong code, a revoked login, a spent link) and the pages handle them.
HANDLED_4XX = r"status of 4\d\d"


class Authenticator:
    """The person's authenticator app: the current code, never one the server saw already
    (a code is single use: the same or an earlier time step is refused)."""

    def __init__(self, secret: str) -> None:
        self.totp = pyotp.TOTP(secret)
        self.last_step = -1

    async def code(self) -> str:
        while True:
            step = int(time.time()) // 30
            # The server accepts the next step too (clock drift): no need to wait for it.
            for candidate in (step, step + 1):
                if candidate > self.last_step:
                    self.last_step = candidate
                    return self.totp.at(candidate * 30)
            await asyncio.sleep(1)

    async def wrong_code(self) -> str:
        valid = {self.totp.at(time.time() + d) for d in (-60, -30, 0, 30, 60)}
        return next(c for c in ("000000", "111111", "222222") if c not in valid)


async def enrol_by_api(base: str, token: str) -> tuple[Authenticator, list[str]]:
    """Two-factor on, through the API (for the tests about what comes after)."""
    enrolment = await api(base, "POST", "/api/auth/mfa/totp", token)
    app = Authenticator(enrolment["secret"])
    answer = await api(
        base, "POST", "/api/auth/mfa/totp/confirm", token, {"code": await app.code()}
    )
    return app, answer["recovery_codes"]


async def password_step(page: Page, base: str, name: str, next_path: str = "/") -> None:
    """The log-in form up to the code step."""
    await page.goto(f"{base}/login?next={next_path}")
    await page.fill("input[name=login]", name)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.get_by_test_id("mfa-step")).to_be_visible()


async def log_out(page: Page) -> None:
    await page.get_by_test_id("logout").click()
    await page.wait_for_url("**/login")


async def status_of(base: str, method: str, path: str, token: str, body: Any = None) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method, base + path, json=body, headers={"Authorization": f"Bearer {token}"}
        ) as response,
    ):
        return response.status


async def mailed_token(data_dir: Path, to: str, path: str, timeout: float = 10.0) -> str:
    """The token of the `{path}?token=` link in the newest mail to `to` (the server's outbox)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for eml in sorted((data_dir / "outbox").glob("*.eml"), reverse=True):
            message = message_from_bytes(eml.read_bytes())
            if message["To"] != to:
                continue
            payload = message.get_payload(decode=True)
            body = payload.decode() if isinstance(payload, bytes) else str(message.get_payload())
            match = re.search(rf"{re.escape(path)}\?token=([A-Za-z0-9_.-]+)", body)
            if match:
                return match[1]
        await asyncio.sleep(0.2)
    raise AssertionError(f"no {path} link mailed to {to}")


async def test_enrol_two_factor_in_the_ui_then_log_in_with_a_code(
    server: Any, new_context: Any, console: Any
) -> None:
    base = server.url
    await register(base, "ada")
    page = await (await new_context()).new_page()
    await log_in(page, base, "ada", "/")
    # The security page is one click from the top bar.
    await page.get_by_test_id("security-link").click()
    await page.wait_for_url("**/settings/security")
    await expect(page.get_by_test_id("mfa-status")).to_have_text("off")

    await page.get_by_test_id("mfa-enable").click()
    qr = page.get_by_test_id("mfa-qr")
    await expect(qr).to_be_visible()
    assert (await qr.get_attribute("src") or "").startswith("data:image/svg+xml;base64,")
    # The QR code really draws (a broken image has no natural size).
    assert await qr.evaluate("img => img.complete && img.naturalWidth > 0")
    secret = await page.get_by_test_id("mfa-secret").get_attribute("data-secret")
    assert secret and re.fullmatch(r"[A-Z2-7]{16,}=*", secret)
    # The secret typed by hand reads the same, in groups.
    shown = await page.get_by_test_id("mfa-secret").inner_text()
    assert shown.replace(" ", "") == secret
    app = Authenticator(secret)

    # A wrong code first: the server's message, and the feature stays off.
    await page.get_by_test_id("mfa-confirm-code").fill(await app.wrong_code())
    await page.get_by_test_id("mfa-confirm").click()
    await expect(page.get_by_test_id("mfa-confirm-error")).to_be_visible()
    await page.get_by_test_id("mfa-confirm-code").fill(await app.code())
    await page.get_by_test_id("mfa-confirm").click()
    codes = page.get_by_test_id("recovery-code")
    await expect(codes).to_have_count(10)
    recovery = await codes.all_inner_texts()
    assert len(set(recovery)) == 10
    async with page.expect_download() as download_info:
        await page.get_by_test_id("recovery-download").click()
    download = await download_info.value
    saved = Path(await download.path()).read_text()
    assert saved.split() == recovery
    await page.get_by_test_id("recovery-done").click()
    await expect(page.get_by_test_id("mfa-status")).to_have_text("on")
    await expect(page.get_by_test_id("recovery-left")).to_contain_text("10")
    await expect(page.get_by_test_id("recovery-codes")).to_have_count(0)  # shown once

    await log_out(page)
    await password_step(page, base, "ada", "/settings/security")
    # Not logged in yet: the password alone got no tokens.
    assert await page.evaluate("document.cookie") in ("", "collab_login=")
    await page.fill("input[name=code]", await app.wrong_code())
    await page.click("button[type=submit]")
    error = page.get_by_test_id("mfa-error")
    await expect(error).to_be_visible()
    message = (await error.inner_text()).strip()
    assert message and "{" not in message and "server answered" not in message, message
    assert "/login" in page.url
    await page.fill("input[name=code]", await app.code())
    await page.click("button[type=submit]")
    await page.wait_for_url("**/settings/security")
    await expect(page.get_by_test_id("mfa-status")).to_have_text("on")
    # The login survives a reload (the refresh cookie was set by the code step).
    await page.reload()
    await expect(page.get_by_test_id("mfa-status")).to_have_text("on")
    console.allow(HANDLED_4XX)


async def test_a_recovery_code_logs_in_once(server: Any, new_context: Any, console: Any) -> None:
    base = server.url
    ada = await register(base, "ada")
    _, codes = await enrol_by_api(base, ada["access_token"])
    page = await (await new_context()).new_page()

    await password_step(page, base, "ada", "/settings/security")
    await page.get_by_test_id("use-recovery-code").click()
    await expect(page.locator("input[name=code]")).to_have_count(0)
    await page.fill("input[name=recovery_code]", codes[0])
    await page.click("button[type=submit]")
    await page.wait_for_url("**/settings/security")
    await expect(page.get_by_test_id("recovery-left")).to_contain_text("9")

    await log_out(page)
    await password_step(page, base, "ada")
    await page.get_by_test_id("use-recovery-code").click()
    await page.fill("input[name=recovery_code]", codes[0])
    await page.click("button[type=submit]")
    await expect(page.get_by_test_id("mfa-error")).to_be_visible()
    assert "/login" in page.url
    console.allow(HANDLED_4XX)


async def test_new_recovery_codes_then_two_factor_off_then_a_new_password(
    server: Any, new_context: Any, console: Any
) -> None:
    base = server.url
    ada = await register(base, "ada")
    app, old_codes = await enrol_by_api(base, ada["access_token"])
    page = await (await new_context()).new_page()
    await password_step(page, base, "ada", "/settings/security")
    await page.fill("input[name=code]", await app.code())
    await page.click("button[type=submit]")
    await page.wait_for_url("**/settings/security")

    # New recovery codes, with a code: ten new ones, shown once.
    await page.get_by_test_id("mfa-regenerate").click()
    await (
        page.get_by_test_id("mfa-regenerate-form")
        .locator("input[name=code]")
        .fill(await app.code())
    )
    await page.get_by_test_id("mfa-regenerate-confirm").click()
    codes = page.get_by_test_id("recovery-code")
    await expect(codes).to_have_count(10)
    assert not set(await codes.all_inner_texts()) & set(old_codes)
    await page.get_by_test_id("recovery-done").click()
    await expect(page.get_by_test_id("recovery-left")).to_contain_text("10")

    # Off, with the password: a wrong one first shows the server's word.
    await page.get_by_test_id("mfa-disable").click()
    form = page.get_by_test_id("mfa-disable-form")
    await form.get_by_test_id("mfa-disable-switch").click()
    await form.locator("input[name=password]").fill("Not-The-Password-1")
    await form.get_by_test_id("mfa-disable-confirm").click()
    await expect(form.get_by_test_id("mfa-disable-error")).to_be_visible()
    await form.locator("input[name=password]").fill(PASSWORD)
    await form.get_by_test_id("mfa-disable-confirm").click()
    await expect(page.get_by_test_id("mfa-status")).to_have_text("off")

    # A new password: the old one stops working, and the password alone logs in again.
    await page.fill("input[name=current_password]", PASSWORD)
    await page.fill("input[name=new_password]", "Another-Horse-8-Staple")
    await page.get_by_test_id("password-submit").click()
    await expect(page.get_by_test_id("password-changed")).to_be_visible()
    await page.reload()  # this login stays
    await expect(page.get_by_test_id("mfa-status")).to_have_text("off")
    async with aiohttp.ClientSession() as http:
        old = {"login": "ada", "password": PASSWORD}
        async with http.post(f"{base}/api/auth/login", json=old) as response:
            assert response.status == 401
        new = {"login": "ada", "password": "Another-Horse-8-Staple"}
        async with http.post(f"{base}/api/auth/login", json=new) as response:
            assert response.status == 200
            assert "access_token" in await response.json()  # no code step any more
    console.allow(HANDLED_4XX)


async def test_an_api_key_made_in_the_ui_works_until_revoked(
    server: Any, new_context: Any, console: Any
) -> None:
    base = server.url
    await register(base, "ada")
    page = await (await new_context()).new_page()
    await log_in(page, base, "ada", "/settings/security")
    await page.get_by_test_id("api-key-new").click()
    dialog = page.get_by_test_id("api-key-dialog")
    await dialog.locator("input[name=key_name]").fill("ci script")
    await expect(dialog.get_by_test_id("scope-read")).to_be_checked()
    await dialog.get_by_test_id("api-key-create").click()
    key = await page.get_by_test_id("api-key-value").input_value()
    assert re.fullmatch(r"collab_[A-Za-z0-9_-]{43,}", key), key
    row = page.get_by_test_id("api-key-row")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("ci script")
    await expect(row).to_contain_text("read")
    prefix = (await row.locator("code").inner_text()).rstrip("…")
    assert key.startswith(prefix)
    # Shown once: gone after "Done", and the list never holds it.
    await page.get_by_test_id("api-key-dismiss").click()
    assert key not in await page.content()

    # A script uses it: it reads, and its `read` scope does not let it write.
    assert await status_of(base, "GET", "/api/sessions", key) == 200
    body = {"name": "nope", "language": "python"}
    assert await status_of(base, "POST", "/api/sessions", key, body) == 403

    await row.get_by_test_id("api-key-revoke").click()
    await page.get_by_test_id("confirm-button").click()
    await expect(page.get_by_test_id("api-key-row")).to_have_count(0)
    assert await status_of(base, "GET", "/api/sessions", key) == 401
    console.allow(HANDLED_4XX)


async def end_the_other_device(here: Page) -> None:
    """On the security page: two logins listed, this one marked; end the other one."""
    await here.get_by_test_id("devices-reload").click()
    await expect(here.get_by_test_id("device-row")).to_have_count(2)
    await expect(here.get_by_test_id("this-device")).to_have_count(1)
    mine = here.locator("[data-testid=device-row][data-current=true]")
    await expect(mine.get_by_test_id("device-end")).to_have_count(0)  # "Log out" is for that
    other = here.locator("[data-testid=device-row][data-current=false]")
    await other.get_by_test_id("device-end").click()
    await here.get_by_test_id("confirm-button").click()
    await expect(here.get_by_test_id("device-row")).to_have_count(1)


async def test_ending_another_device_logs_it_out(
    server: Any, new_context: Any, console: Any
) -> None:
    base = server.url
    ada = await register(base, "ada")
    session = await api(
        base, "POST", "/api/sessions", ada["access_token"], {"name": "Kata", "language": "python"}
    )
    # Registering was a login too (this script's): end it, so the list holds the browsers.
    await api(base, "POST", "/api/auth/logout", body={"refresh_token": ada["refresh_token"]})
    here = await (await new_context()).new_page()
    await log_in(here, base, "ada", "/settings/security")

    # The other browser has a file open: its socket is closed, and with no click it lands
    # on the log-in page.
    there = await (await new_context()).new_page()
    await log_in(there, base, "ada", f"/sessions/{session['session_id']}?file=main.py")
    await wait_editable(there)
    await end_the_other_device(here)
    await there.wait_for_url(re.compile(r"/login"), timeout=15_000)
    await expect(there.locator("input[name=password]")).to_be_visible()

    # Logged in again and on a page without a socket: its next API call fails, and it lands
    # on the log-in page too.
    await log_in(there, base, "ada", "/settings/security")
    await expect(there.get_by_test_id("device-row")).to_have_count(2)
    await end_the_other_device(here)
    await there.get_by_test_id("devices-reload").click()
    await there.wait_for_url(re.compile(r"/login"))
    await expect(there.locator("input[name=password]")).to_be_visible()
    await there.reload()  # and it stays logged out
    await expect(there.locator("input[name=password]")).to_be_visible()
    # This browser is still logged in.
    await here.reload()
    await expect(here.get_by_test_id("this-device")).to_be_visible()
    console.allow(HANDLED_4XX)


async def test_changing_the_email_through_the_mailed_link(
    server: Any, new_context: Any, console: Any
) -> None:
    base = server.url
    await register(base, "ada")
    page = await (await new_context()).new_page()
    await log_in(page, base, "ada", "/settings/security")
    await expect(page.get_by_test_id("current-email")).to_have_text("ada@example.org")
    await page.fill("input[name=new_email]", "ada.new@example.org")
    await page.fill("input[name=email_password]", PASSWORD)
    await page.get_by_test_id("email-submit").click()
    await expect(page.get_by_test_id("email-change-sent")).to_contain_text("ada.new@example.org")
    # Nothing changes until the link is opened.
    await expect(page.get_by_test_id("current-email")).to_have_text("ada@example.org")

    token = await mailed_token(server.data_dir, "ada.new@example.org", "/confirm-email")
    await page.goto(f"{base}/confirm-email?token={token}")
    await expect(page.get_by_test_id("confirm-email-done")).to_contain_text("ada.new@example.org")
    await page.goto(f"{base}/settings/security")
    await expect(page.get_by_test_id("current-email")).to_have_text("ada.new@example.org")

    # The link is single use: opened again, the page says why it no longer works.
    await page.goto(f"{base}/confirm-email?token={token}")
    error = page.get_by_test_id("confirm-email-error")
    await expect(error).to_be_visible()
    assert "{" not in await error.inner_text()
    console.allow(HANDLED_4XX)


async def test_export_and_delete_the_account(server: Any, new_context: Any, console: Any) -> None:
    base = server.url
    ada = await register(base, "ada")
    token = ada["access_token"]
    app, _ = await enrol_by_api(base, token)
    workspace = await api(base, "POST", "/api/workspaces", token, {"name": "Ada's lab"})

    page = await (await new_context()).new_page()
    await password_step(page, base, "ada", "/profile")
    await page.fill("input[name=code]", await app.code())
    await page.click("button[type=submit]")
    await page.wait_for_url("**/profile")
    await expect(page.get_by_test_id("profile-security-link")).to_be_visible()

    async with page.expect_download() as download_info:
        await page.get_by_test_id("export-data").click()
    download = await download_info.value
    assert download.suggested_filename.endswith(".json")
    exported = json.loads(Path(await download.path()).read_text())
    dump = json.dumps(exported)
    assert "ada@example.org" in dump and "Ada's lab" in dump
    assert "password_hash" not in dump and "$argon2" not in dump

    # Two-factor is on: the dialog asks for a code as well as the password.
    await page.get_by_test_id("delete-account").click()
    dialog = page.get_by_test_id("delete-account-dialog")
    await dialog.locator("input[name=delete_password]").fill(PASSWORD)
    await dialog.locator("input[name=delete_code]").fill(await app.code())
    await dialog.get_by_test_id("delete-account-confirm").click()
    # The workspace only ada owns blocks it, by name.
    await expect(dialog.get_by_test_id("sole-owned")).to_contain_text("Ada's lab")
    assert "/profile" in page.url

    await api(base, "DELETE", f"/api/workspaces/{workspace['ws_id']}", token)
    await dialog.locator("input[name=delete_code]").fill(await app.code())
    await dialog.get_by_test_id("delete-account-confirm").click()
    await page.wait_for_url("**/login?deleted=1")
    await expect(page.get_by_test_id("account-deleted")).to_be_visible()
    # Logged out here, and the old token is worthless.
    await page.goto(f"{base}/profile")
    await page.wait_for_url(re.compile(r"/login"))
    assert await status_of(base, "GET", "/api/auth/me", token) == 401

    # Logging in within the grace period keeps the account.
    await password_step(page, base, "ada", "/profile")
    await page.fill("input[name=code]", await app.code())
    await page.click("button[type=submit]")
    await page.wait_for_url("**/profile")
    await expect(page.get_by_test_id("profile-page")).to_contain_text("ada@example.org")
    console.allow(HANDLED_4XX)


async def test_an_oauth_login_goes_through_the_code_step(
    tmp_path: Path, external_env: dict[str, str], new_context: Any, console: Any
) -> None:
    provider = StandIn()
    provider.accounts["octo"] = Account(id="4242", login="octo", email="octo@example.org")
    standin = TestServer(provider.app(), host="127.0.0.1")
    await standin.start_server()
    provider.base_url = str(standin.make_url("")).rstrip("/")
    env = {
        **external_env,
        "COLLAB_GITHUB_CLIENT_ID": CLIENT_ID,
        "COLLAB_GITHUB_CLIENT_SECRET": CLIENT_SECRET,
        "COLLAB_GITHUB_URL": provider.base_url,
        "COLLAB_GITHUB_API_URL": f"{provider.base_url}/api",
    }
    server = ServerProcess(tmp_path / "server", env)
    server.env["COLLAB_PUBLIC_URL"] = server.url  # the provider sends the browser back here
    try:
        with server:
            base = server.url
            context = await new_context()

            async def as_octo(route: Route) -> None:
                # At the provider, octo is the one who logs in (the stand-in's `as=`).
                response = await route.fetch(max_redirects=0)
                location = response.headers["location"] + "&as=octo"
                await route.fulfill(status=302, headers={"Location": location})

            await context.route(f"{base}/api/auth/oauth/github/authorize", as_octo)
            page = await context.new_page()

            # First login with GitHub makes the account; two-factor goes on in the UI.
            await page.goto(f"{base}/login")
            await page.get_by_test_id("oauth-github").click()
            await expect(page.get_by_test_id("topbar")).to_contain_text("Octo")
            await page.goto(f"{base}/settings/security")
            await page.get_by_test_id("mfa-enable").click()
            secret = await page.get_by_test_id("mfa-secret").get_attribute("data-secret")
            assert secret
            app = Authenticator(secret)
            await page.get_by_test_id("mfa-confirm-code").fill(await app.code())
            await page.get_by_test_id("mfa-confirm").click()
            await expect(page.get_by_test_id("recovery-code")).to_have_count(10)
            await log_out(page)

            # GitHub alone no longer logs in: the code step, its token out of the address bar.
            await page.get_by_test_id("oauth-github").click()
            await expect(page.get_by_test_id("mfa-step")).to_be_visible()
            assert "mfa_token" not in page.url and "#" not in page.url
            assert "mfa_token" not in await page.evaluate("history.state ?? ''")
            await page.fill("input[name=code]", await app.code())
            await page.click("button[type=submit]")
            await page.wait_for_url(lambda url: "/login" not in url)
            await expect(page.get_by_test_id("topbar")).to_contain_text("Octo")
            await page.goto(f"{base}/settings/security")
            await expect(page.get_by_test_id("mfa-status")).to_have_text("on")
    finally:
        await standin.close()
    console.allow(HANDLED_4XX)
