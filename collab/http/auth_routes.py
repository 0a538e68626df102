"""`/api/auth/*`: accounts, tokens and OAuth.

The pages mailed links open (`/verify-email`, `/reset-password`) belong to the web app;
opening one never spends its token (mail scanners open links), only the app's confirming
POST does. A browser (`X-Collab-Client: web`) gets its refresh token as a cookie, never in
the JSON (`collab.http.refresh_cookie`).

With TOTP on, a login (password or provider) answers `{mfa_required, mfa_token}` instead of
tokens; `POST /api/auth/mfa/verify` (collab.http.mfa_routes) completes it.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from aiohttp import hdrs, web

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
from collab.http.refresh_cookie import (
    clear_refresh_cookie,
    cookie_token,
    has_cookie,
    is_browser,
    require_same_origin,
    set_refresh_cookie,
)
from collab.state import ACCOUNTS, OAUTH, SETTINGS
from kernel.errors import Unauthenticated, ValidationFailed
from kernel.validation import parse

routes = web.RouteTableDef()


# Token answers must never be cached (RFC 6749, 5.1).
_NO_STORE = {"Cache-Control": "no-store"}


def token_answer(request: web.Request, pair: dict[str, Any], status: int = 200) -> web.Response:
    """A token pair as JSON; for a browser, the refresh token goes in the cookie instead."""
    if not is_browser(request):
        return web.json_response(pair, status=status, headers=_NO_STORE)
    shown = {k: v for k, v in pair.items() if k != "refresh_token"}
    response = web.json_response(shown, status=status, headers=_NO_STORE)
    set_refresh_cookie(response, pair["refresh_token"], request.app[SETTINGS])
    return response


async def _presented_token(request: web.Request) -> tuple[str | None, bool]:
    """The refresh token a call presents (None: a browser without the cookie), and whether
    it came from the cookie.

    JSON clients send it in the body, exactly as before. A browser sends no body token and
    is authenticated by the cookie, under the CSRF rule; a call that carries the cookie but
    not the browser header is refused rather than silently ignored.
    """
    if not is_browser(request) and not has_cookie(request):
        return parse(RefreshInput, await read_json(request)).refresh_token, False
    body = await read_json(request) if await request.read() else {}
    if "refresh_token" in body:
        return parse(RefreshInput, body).refresh_token, False
    require_same_origin(request, request.app[SETTINGS])
    return cookie_token(request), True


@routes.post("/api/auth/register")
async def register(request: web.Request) -> web.Response:
    data = parse(RegisterInput, await read_json(request))
    pair = await request.app[ACCOUNTS].register(data, client(request))
    return token_answer(request, pair, status=201)


@routes.post("/api/auth/login")
async def login(request: web.Request) -> web.Response:
    data = parse(LoginInput, await read_json(request))
    answer = await request.app[ACCOUNTS].login(data, client(request))
    if answer.get("mfa_required"):
        # TOTP is on: no tokens yet, only the MFA token for POST /api/auth/mfa/verify.
        return web.json_response(answer, headers=_NO_STORE)
    return token_answer(request, answer)


@routes.post("/api/auth/refresh")
async def refresh(request: web.Request) -> web.Response:
    token, _ = await _presented_token(request)
    if token is None:
        raise Unauthenticated("There is no refresh cookie; log in again.")
    return token_answer(request, await request.app[ACCOUNTS].refresh(token, client(request)))


@routes.post("/api/auth/logout")
async def logout(request: web.Request) -> web.Response:
    token, from_cookie = await _presented_token(request)
    if token is not None:  # no cookie: this browser is logged out already
        await request.app[ACCOUNTS].logout(token, client(request))
    response = web.Response(status=204)
    if from_cookie or is_browser(request):
        clear_refresh_cookie(response)
    return response


@routes.get("/api/auth/providers")
async def providers(request: web.Request) -> web.Response:
    """The OAuth providers configured here: the web app shows a button for each."""
    return web.json_response({"providers": request.app[OAUTH].provider_names()})


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


# -- OAuth ----------------------------------------------------------------------------------


OAUTH_STATE_COOKIE = "collab_oauth_state"


@routes.get("/api/auth/oauth/{provider}/authorize")
async def oauth_authorize(request: web.Request) -> web.Response:
    url = await request.app[OAUTH].start(request.match_info["provider"], client(request))
    # The state is bound to this browser: the callback is honoured only where the login
    # started, so nobody can hand a victim a callback URL that logs them into another
    # account (login CSRF). Lax: the provider's redirect back is a top-level navigation.
    state = parse_qs(urlsplit(url).query).get("state", [""])[0]
    found = web.Response(status=302, headers={"Location": url, **_NO_STORE})
    found.headers.add(
        hdrs.SET_COOKIE,
        f"{OAUTH_STATE_COOKIE}={state}; Path=/api/auth/oauth; Max-Age=600; HttpOnly; SameSite=Lax",
    )
    return found


def _mfa_step_answer(request: web.Request, mfa_token: str, frontend: str | None) -> web.Response:
    """A provider login of an account with TOTP on: the app's login page asks for the code.
    The MFA token travels in the fragment (never sent to a server, nor in a Referer); the
    page reads it and clears it from the address bar. JSON clients get it in the body."""
    fragment = urlencode({"mfa_token": mfa_token})
    if frontend:
        raise web.HTTPFound(f"{frontend.rstrip('/')}/login#{fragment}", headers=_NO_STORE)
    if "text/html" in request.headers.get("Accept", ""):
        return web.Response(status=302, headers={"Location": f"/login#{fragment}", **_NO_STORE})
    return web.json_response({"mfa_required": True, "mfa_token": mfa_token}, headers=_NO_STORE)


@routes.get("/api/auth/oauth/{provider}/callback")
async def oauth_callback(request: web.Request) -> web.Response:
    provider = request.match_info["provider"]
    if "error" in request.query:
        raise Unauthenticated(f"The provider refused: {request.query['error'][:100]}")
    code, state = request.query.get("code", ""), request.query.get("state", "")
    if not code or not state:
        raise ValidationFailed({"code": "required", "state": "required"})
    started_here = request.cookies.get(OAUTH_STATE_COOKIE, "")
    # surrogateescape: a state or cookie of bytes that are not UTF-8 is simply not equal.
    if not hmac.compare_digest(
        started_here.encode("utf-8", "surrogateescape"),
        state[:200].encode("utf-8", "surrogateescape"),
    ):
        raise Unauthenticated("This sign-in was not started in this browser; start it again.")
    pair = await request.app[OAUTH].finish(provider, code[:2000], state[:200], client(request))
    frontend = request.app[SETTINGS].frontend_url
    if pair.get("mfa_required"):
        return _mfa_step_answer(request, pair["mfa_token"], frontend)
    if frontend:
        # The access token in the fragment (it never reaches a server log or a Referer); the
        # refresh token only in the HttpOnly cookie, never where script could read it.
        fragment = urlencode({k: pair[k] for k in ("access_token", "expires_in")})
        found = web.Response(
            status=302,
            headers={"Location": f"{frontend.rstrip('/')}/oauth/callback#{fragment}", **_NO_STORE},
        )
        set_refresh_cookie(found, pair["refresh_token"], request.app[SETTINGS])
        return found
    if "text/html" in request.headers.get("Accept", ""):
        # A browser navigation back from the provider: the app at `/` calls refresh with
        # the cookie, so no token ever appears in a URL or to script.
        found = web.Response(status=302, headers={"Location": "/", **_NO_STORE})
        set_refresh_cookie(found, pair["refresh_token"], request.app[SETTINGS])
        return found
    return web.json_response(pair, headers=_NO_STORE)
