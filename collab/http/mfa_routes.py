"""`/api/auth/mfa/*`: two-factor login with TOTP (auth/mfa.py).

Settings routes need a logged-in user; `/verify` is the login's second step and answers a
token pair exactly as `/login` does (a browser's refresh token goes in the cookie). Secrets
and recovery codes are answered once, never cached.
"""

from __future__ import annotations

from aiohttp import web

from auth.account_inputs import CodeInput, MfaDisableInput, MfaVerifyInput
from collab.http.auth_routes import token_answer
from collab.http.authn import client, current_user
from collab.http.errors import read_json
from collab.state import MFA
from kernel.validation import parse

routes = web.RouteTableDef()

_NO_STORE = {"Cache-Control": "no-store"}


@routes.get("/api/auth/mfa")
async def mfa_status(request: web.Request) -> web.Response:
    user = await current_user(request)
    return web.json_response(await request.app[MFA].status(user), headers=_NO_STORE)


@routes.post("/api/auth/mfa/totp")
async def enrol_totp(request: web.Request) -> web.Response:
    user = await current_user(request)
    answer = await request.app[MFA].enrol(user, client(request))
    return web.json_response(answer, headers=_NO_STORE)


@routes.post("/api/auth/mfa/totp/confirm")
async def confirm_totp(request: web.Request) -> web.Response:
    user = await current_user(request)
    data = parse(CodeInput, await read_json(request))
    codes = await request.app[MFA].confirm(user, data.code, client(request))
    return web.json_response({"recovery_codes": codes}, headers=_NO_STORE)


@routes.delete("/api/auth/mfa/totp")
async def disable_totp(request: web.Request) -> web.Response:
    user = await current_user(request)
    data = parse(MfaDisableInput, await read_json(request))
    await request.app[MFA].disable(user, data.code, data.password, client(request))
    return web.Response(status=204)


@routes.post("/api/auth/mfa/recovery-codes")
async def regenerate_recovery_codes(request: web.Request) -> web.Response:
    user = await current_user(request)
    data = parse(CodeInput, await read_json(request))
    codes = await request.app[MFA].regenerate_recovery_codes(user, data.code, client(request))
    return web.json_response({"recovery_codes": codes}, headers=_NO_STORE)


@routes.post("/api/auth/mfa/verify")
async def verify(request: web.Request) -> web.Response:
    data = parse(MfaVerifyInput, await read_json(request))
    pair = await request.app[MFA].verify(
        data.mfa_token, data.code, data.recovery_code, client(request)
    )
    return token_answer(request, pair)
