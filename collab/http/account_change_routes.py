"""`/api/auth/password/change`, `/api/auth/email/change|confirm`, `/verify-email/resend`
(auth/account_changes.py).

The confirmation link (`{links_base}/confirm-email?token=…`) opens a page of the web app;
opening it spends nothing, only the page's `POST /api/auth/email/confirm` does.
"""

from __future__ import annotations

from aiohttp import web

from auth.account_inputs import EmailChangeInput, PasswordChangeInput, TokenInput
from collab.http.authn import client, current_user
from collab.http.errors import read_json
from collab.state import ACCOUNT_CHANGES
from kernel.validation import parse

routes = web.RouteTableDef()


@routes.post("/api/auth/password/change")
async def change_password(request: web.Request) -> web.Response:
    user = await current_user(request)
    data = parse(PasswordChangeInput, await read_json(request))
    # This login stays; every other one ends.
    await request.app[ACCOUNT_CHANGES].change_password(
        user, data.current_password, data.new_password, client(request), user.login_id
    )
    return web.Response(status=204)


@routes.post("/api/auth/email/change")
async def change_email(request: web.Request) -> web.Response:
    user = await current_user(request)
    data = parse(EmailChangeInput, await read_json(request))
    await request.app[ACCOUNT_CHANGES].request_email_change(
        user, data.new_email, data.password, client(request)
    )
    return web.json_response(
        {"message": "A confirmation link is on its way to the new address."}, status=202
    )


@routes.post("/api/auth/email/confirm")
async def confirm_email(request: web.Request) -> web.Response:
    data = parse(TokenInput, await read_json(request))
    user = await request.app[ACCOUNT_CHANGES].confirm_email_change(data.token, client(request))
    return web.json_response({"user": user.public()})


@routes.post("/api/auth/verify-email/resend")
async def resend_verification(request: web.Request) -> web.Response:
    user = await current_user(request)
    await request.app[ACCOUNT_CHANGES].resend_verification(user, client(request))
    return web.json_response({"message": "A new verification link is on its way."}, status=202)
