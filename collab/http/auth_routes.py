"""`/api/auth/*` and the two pages mailed links open (`/verify-email`, `/reset-password`).

Opening a mailed link (GET) never spends its token: mail scanners open links. The page
asks the person to confirm, and only that confirming POST spends it.
"""

from __future__ import annotations

import html
from urllib.parse import urlencode

from aiohttp import web

from auth.account_inputs import (
    ForgotInput,
    LoginInput,
    ProfileInput,
    RefreshInput,
    RegisterInput,
    ResetInput,
    TokenInput,
)
from collab.http.authn import client, current_user
from collab.http.errors import read_json
from collab.state import ACCOUNTS, OAUTH, SETTINGS
from kernel.errors import Unauthenticated, ValidationFailed
from kernel.validation import parse

routes = web.RouteTableDef()


@routes.post("/api/auth/register")
async def register(request: web.Request) -> web.Response:
    data = parse(RegisterInput, await read_json(request))
    pair = await request.app[ACCOUNTS].register(data, client(request))
    return web.json_response(pair, status=201)


@routes.post("/api/auth/login")
async def login(request: web.Request) -> web.Response:
    data = parse(LoginInput, await read_json(request))
    return web.json_response(await request.app[ACCOUNTS].login(data, client(request)))


@routes.post("/api/auth/refresh")
async def refresh(request: web.Request) -> web.Response:
    data = parse(RefreshInput, await read_json(request))
    return web.json_response(
        await request.app[ACCOUNTS].refresh(data.refresh_token, client(request))
    )


@routes.post("/api/auth/logout")
async def logout(request: web.Request) -> web.Response:
    data = parse(RefreshInput, await read_json(request))
    await request.app[ACCOUNTS].logout(data.refresh_token, client(request))
    return web.Response(status=204)


@routes.post("/api/auth/logout-all")
async def logout_all(request: web.Request) -> web.Response:
    user = await current_user(request)
    await request.app[ACCOUNTS].logout_all(user, client(request))
    return web.Response(status=204)


@routes.get("/api/auth/me")
async def me(request: web.Request) -> web.Response:
    return web.json_response((await current_user(request)).public())


@routes.patch("/api/auth/me")
async def update_me(request: web.Request) -> web.Response:
    user = await current_user(request)
    data = parse(ProfileInput, await read_json(request))
    updated = await request.app[ACCOUNTS].update_profile(user, data, client(request))
    return web.json_response(updated.public())


@routes.post("/api/auth/verify-email")
async def verify_email(request: web.Request) -> web.Response:
    data = parse(TokenInput, await read_json(request))
    user = await request.app[ACCOUNTS].verify_email(data.token, client(request))
    return web.json_response({"user": user.public()})


@routes.post("/api/auth/password/forgot")
async def forgot_password(request: web.Request) -> web.Response:
    data = parse(ForgotInput, await read_json(request))
    await request.app[ACCOUNTS].forgot_password(data.email, client(request))
    return web.json_response(
        {"message": "If an account has this address, a reset link is on its way."}, status=202
    )


@routes.post("/api/auth/password/reset")
async def reset_password(request: web.Request) -> web.Response:
    data = parse(ResetInput, await read_json(request))
    await request.app[ACCOUNTS].reset_password(data.token, data.password, client(request))
    return web.Response(status=204)


# -- pages that mailed links open ---------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"></head>
<body style="font-family: system-ui, sans-serif; max-width: 28rem; margin: 4rem auto">
<h1>{title}</h1>
<form id="form">{fields}<button type="submit">{button}</button></form>
<p id="result" role="status"></p>
<script>
document.getElementById("form").addEventListener("submit", async (event) => {{
  event.preventDefault();
  const body = Object.fromEntries(new FormData(event.target));
  const response = await fetch("{action}", {{method: "POST",
    headers: {{"Content-Type": "application/json"}}, body: JSON.stringify(body)}});
  const result = document.getElementById("result");
  if (response.ok) {{ result.textContent = "{done}"; event.target.remove(); }}
  else {{ result.textContent = (await response.json()).error.message; }}
}});
</script></body></html>"""

_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'",
}


def _page(title: str, fields: str, button: str, action: str, done: str) -> web.Response:
    body = _PAGE.format(title=title, fields=fields, button=button, action=action, done=done)
    return web.Response(text=body, content_type="text/html", headers=_SECURITY_HEADERS)


def _token_field(request: web.Request) -> str:
    token = html.escape(request.query.get("token", "")[:200], quote=True)
    return f'<input type="hidden" name="token" value="{token}">'


@routes.get("/verify-email")
async def verify_email_page(request: web.Request) -> web.Response:
    return _page(
        "Confirm your email address",
        _token_field(request),
        "Confirm",
        "/api/auth/verify-email",
        "Your email address is confirmed.",
    )


@routes.get("/reset-password")
async def reset_password_page(request: web.Request) -> web.Response:
    fields = _token_field(request) + (
        '<p><label>New password <input type="password" name="password" required minlength="8" '
        'autocomplete="new-password"></label></p>'
    )
    return _page(
        "Choose a new password",
        fields,
        "Set password",
        "/api/auth/password/reset",
        "Your password was changed. Log in with it now.",
    )


# -- OAuth ----------------------------------------------------------------------------------


@routes.get("/api/auth/oauth/{provider}/authorize")
async def oauth_authorize(request: web.Request) -> web.Response:
    url = await request.app[OAUTH].start(request.match_info["provider"])
    raise web.HTTPFound(url)


@routes.get("/api/auth/oauth/{provider}/callback")
async def oauth_callback(request: web.Request) -> web.Response:
    provider = request.match_info["provider"]
    if "error" in request.query:
        raise Unauthenticated(f"The provider refused: {request.query['error'][:100]}")
    code, state = request.query.get("code", ""), request.query.get("state", "")
    if not code or not state:
        raise ValidationFailed({"code": "required", "state": "required"})
    pair = await request.app[OAUTH].finish(provider, code[:2000], state[:200], client(request))
    frontend = request.app[SETTINGS].frontend_url
    if frontend:
        # In the fragment, so the tokens never reach a server log or a Referer header.
        fragment = urlencode({k: pair[k] for k in ("access_token", "refresh_token", "expires_in")})
        raise web.HTTPFound(f"{frontend.rstrip('/')}/oauth/callback#{fragment}")
    return web.json_response(pair)
