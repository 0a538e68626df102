"""Two-factor helpers for tests: an authenticator app that computes real TOTP codes (pyotp),
each for a later time step than the one before (a server refuses a step used already)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pyotp

from tests.accounts_support import bearer
from tests.support import Client


@dataclass
class Authenticator:
    secret: str
    last_step: int = -(10**9)

    def next_code(self) -> str:
        """A code valid now (the server accepts one step either side) for a step later than
        any this authenticator gave before."""
        current = int(time.time() // 30)
        step = max(self.last_step + 1, current - 1)
        while step > current + 1:  # used every step of the window: wait for the next one
            time.sleep(1)
            current = int(time.time() // 30)
        self.last_step = step
        return pyotp.TOTP(self.secret).at(step * 30)

    def wrong_code(self) -> str:
        """A well-formed code that is valid at no step near now."""
        current = int(time.time() // 30)
        valid = {pyotp.TOTP(self.secret).at((current + d) * 30) for d in range(-2, 3)}
        return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in valid)


async def enable_totp(client: Client, pair: dict[str, Any]) -> tuple[Authenticator, list[str]]:
    """Enrol and confirm TOTP for a logged-in user; the authenticator and recovery codes."""
    enrol = await client.post("/api/auth/mfa/totp", headers=bearer(pair))
    assert enrol.status == 200, await enrol.text()
    app = Authenticator((await enrol.json())["secret"])
    confirm = await client.post(
        "/api/auth/mfa/totp/confirm", headers=bearer(pair), json={"code": app.next_code()}
    )
    assert confirm.status == 200, await confirm.text()
    codes: list[str] = (await confirm.json())["recovery_codes"]
    return app, codes


async def password_login(client: Client, login: str, password: str) -> dict[str, Any]:
    response = await client.post("/api/auth/login", json={"login": login, "password": password})
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body
