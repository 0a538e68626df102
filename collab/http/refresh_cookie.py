"""The browser's refresh token: an HttpOnly cookie, and the CSRF rule for the calls it carries.

A browser marks its API calls with `X-Collab-Client: web`. For such a caller the refresh
token never reaches script: it travels only in the `collab_refresh` cookie (`HttpOnly;
Secure; SameSite=Strict`), set twice, scoped to the two routes that read it, refresh and
logout. JSON clients (no header) keep sending the token in the body.

A cookie is sent by the browser on its own, so the routes it authenticates need a CSRF
defence (`require_same_origin`): the custom header, which no cross-origin page can send
without a CORS preflight we grant only to allowed origins, and an `Origin` we trust.
"""

from __future__ import annotations

import re

from aiohttp import hdrs, web

from config import Settings
from kernel.errors import Forbidden

CLIENT_HEADER = "X-Collab-Client"
WEB_CLIENT = "web"
COOKIE = "collab_refresh"
# A script-readable flag (no secret in it) saying a refresh cookie was set: the app tries to
# restore a login on page load only when it is there, so a visitor who never logged in costs
# no refresh call (and no 401 in the console).
HINT_COOKIE = "collab_login"
# Only the routes that read it: no other request ever carries the refresh token.
COOKIE_PATHS = ("/api/auth/refresh", "/api/auth/logout")
# Refresh tokens are URL-safe base64, which needs no quoting in a cookie.
_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_-]{1,200}")


def is_browser(request: web.Request) -> bool:
    return request.headers.get(CLIENT_HEADER, "").strip().lower() == WEB_CLIENT


def has_cookie(request: web.Request) -> bool:
    return bool(request.cookies.get(COOKIE))


def _set_cookie(response: web.StreamResponse, value: str, max_age: int) -> None:
    # Written by hand: aiohttp keeps one cookie per name, and this one has two paths.
    for path in COOKIE_PATHS:
        response.headers.add(
            hdrs.SET_COOKIE,
            f"{COOKIE}={value}; Path={path}; Max-Age={max_age}; HttpOnly; Secure; SameSite=Strict",
        )
    hint = "1" if value else ""
    response.headers.add(
        hdrs.SET_COOKIE,
        f"{HINT_COOKIE}={hint}; Path=/; Max-Age={max_age}; Secure; SameSite=Strict",
    )


def set_refresh_cookie(response: web.StreamResponse, token: str, settings: Settings) -> None:
    """Hand the refresh token to the browser; the server still enforces its own expiry."""
    if not _COOKIE_VALUE.fullmatch(token):
        raise ValueError("a refresh token must be URL-safe base64 to travel in a cookie")
    _set_cookie(response, token, settings.refresh_absolute_days * 86400)


def clear_refresh_cookie(response: web.StreamResponse) -> None:
    _set_cookie(response, "", 0)


def cookie_token(request: web.Request) -> str | None:
    """The cookie's refresh token; None when it is absent (or not one of ours)."""
    token = request.cookies.get(COOKIE, "")
    return token if _COOKIE_VALUE.fullmatch(token) else None


def _normal(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def trusted_origins(request: web.Request, settings: Settings) -> set[str]:
    """The server's public origin, the configured allowed origins, and the origin the browser
    really used when it is this request's own host over the same scheme (a person may open
    http://localhost:PORT while the public URL says 127.0.0.1). The last is safe: a page on
    another host sends its own origin, and a DNS-rebound host never holds our cookie."""
    own = f"{request.scheme}://{request.host}"
    return {_normal(o) for o in (settings.public_origin, *settings.allowed_origins, own)}


def require_same_origin(request: web.Request, settings: Settings) -> None:
    """Refuse a cookie-authenticated call that a page of another origin may have made."""
    if not is_browser(request):
        raise Forbidden(
            f"A call authenticated by the refresh cookie must send {CLIENT_HEADER}: {WEB_CLIENT}."
        )
    origin = request.headers.get(hdrs.ORIGIN, "")
    if not origin or origin == "null":
        raise Forbidden("A call authenticated by the refresh cookie must send its Origin.")
    if _normal(origin) not in trusted_origins(request, settings):
        raise Forbidden(f"The origin {origin[:100]!r} may not use the refresh cookie.")
    # A consistent browser never says cross-site for our own origin; only listed origins
    # are other sites we trust.
    explicitly_allowed = {_normal(o) for o in settings.allowed_origins}
    if (
        request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site"
        and _normal(origin) not in explicitly_allowed
    ):
        raise Forbidden("A cross-site page may not use the refresh cookie.")
