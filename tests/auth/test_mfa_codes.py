"""A two-factor code written in non-ASCII digits is a wrong code, never a 500.

`\\d` matches every Unicode decimal digit (Arabic-Indic, fullwidth, Devanagari...), and
`hmac.compare_digest` raises TypeError on a non-ASCII str: each route that checks a code
answered 500 to such a code (an attacker who knows only the password reaches one through
`/mfa/verify`)."""

from __future__ import annotations

import pytest

from tests.accounts_support import STRONG_PASSWORD, bearer, register
from tests.mfa_support import enable_totp, password_login
from tests.support import Client

# Six decimal digits that are not ASCII: Arabic-Indic, fullwidth, Devanagari.
FOREIGN_DIGITS = [
    "\u0661\u0662\u0663\u0664\u0665\u0666",
    "\uff11\uff12\uff13\uff14\uff15\uff16",
    "\u0967\u0968\u0969\u096a\u096b\u096c",
]


@pytest.mark.parametrize("code", FOREIGN_DIGITS)
async def test_confirming_enrolment_with_foreign_digits_is_a_wrong_code(
    client: Client, code: str
) -> None:
    pair = await register(client, "alice")
    assert (await client.post("/api/auth/mfa/totp", headers=bearer(pair))).status == 200
    response = await client.post(
        "/api/auth/mfa/totp/confirm", headers=bearer(pair), json={"code": code}
    )
    assert response.status == 422, await response.text()
    assert "code" in (await response.json())["error"]["details"]


@pytest.mark.parametrize("code", FOREIGN_DIGITS)
async def test_every_route_taking_a_code_refuses_foreign_digits_as_wrong(
    client: Client, code: str
) -> None:
    pair = await register(client, "bob")
    app, _ = await enable_totp(client, pair)
    step = await password_login(client, "bob", STRONG_PASSWORD)
    answers = [
        await client.post(
            "/api/auth/mfa/verify", json={"mfa_token": step["mfa_token"], "code": code}
        ),
        await client.post(
            "/api/auth/mfa/recovery-codes", headers=bearer(pair), json={"code": code}
        ),
        await client.delete("/api/auth/mfa/totp", headers=bearer(pair), json={"code": code}),
        await client.delete(
            "/api/auth/me", headers=bearer(pair), json={"password": STRONG_PASSWORD, "code": code}
        ),
    ]
    for response in answers:
        # A wrong code: 422, or 429 once the wrong codes above slowed the account down.
        assert response.status in (422, 429), (response.url, await response.text())
    # The real code still works afterwards.
    done = await client.post(
        "/api/auth/mfa/verify", json={"mfa_token": step["mfa_token"], "code": app.next_code()}
    )
    assert done.status in (200, 429), await done.text()
