"""Who is calling: the bearer token's user, and the client's address for audit/limits.

The bearer is an access token or an API key (`collab_…`). An API key's scopes are checked
here, the one place every authenticated route passes through, against the route the
request matched (`required_scope`): a key narrows what its user's roles allow, and may
never manage the account's credentials.
"""

from __future__ import annotations

from aiohttp import web

from auth.callers import Caller, InsufficientScope
from collab.http.client_info import client_info
from collab.state import ACCOUNTS, SETTINGS
from kernel.context import Actor, ClientInfo
from kernel.errors import InvalidToken, Unauthenticated

_USER = web.RequestKey("user", Caller)

# Routes a key may never use, whatever its scopes: credentials, second factor, password,
# email, logins, the account's deletion. Prefixes of the matched route's pattern.
_KEYLESS_PREFIXES = (
    "/api/auth/api-keys",
    "/api/auth/mfa",
    "/api/auth/password/",
    "/api/auth/email/",
    "/api/auth/sessions",
    "/api/auth/logout-all",
)
_KEYLESS_ROUTES = {("DELETE", "/api/auth/me")}
_DEPLOY_ROUTES = {
    ("POST", "/api/sessions/{session_id}/deployments"),
    ("POST", "/api/deployments/{deployment_id}/stop"),
}
_READS = {"GET", "HEAD", "OPTIONS"}


def required_scope(method: str, route: str) -> str | None:
    """The scope a key needs for this route (its pattern, e.g. `/api/x/{id}`); None: no
    key may use it."""
    if route.startswith(_KEYLESS_PREFIXES) or (method, route) in _KEYLESS_ROUTES:
        return None
    if route == "/api/admin" or route.startswith("/api/admin/"):
        return "admin"
    if (method, route) in _DEPLOY_ROUTES:
        return "deploy"
    return "read" if method in _READS else "write"


def _route_of(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else request.path


def check_scope(request: web.Request, caller: Caller) -> None:
    if caller.scopes is None:
        return
    needed = required_scope(request.method, _route_of(request))
    if needed is None:
        raise InsufficientScope(
            "API keys cannot manage keys, two-factor login, the password, the email, "
            "logins or the account; log in to do this."
        )
    if not caller.has_scope(needed):
        raise InsufficientScope(
            f"This API key lacks the {needed!r} scope this request needs.", {"scope": needed}
        )


def bearer_token(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send Authorization: Bearer <access_token>.")
    if not token.strip().isascii():  # no token we make is; bytes that are not UTF-8 too
        raise InvalidToken("The access token is malformed.")
    return token.strip()


async def current_user(request: web.Request) -> Caller:
    """The caller, once per request; an API key without the scope the route needs is
    refused here (403 `insufficient_scope`)."""
    if _USER in request:
        return request[_USER]
    caller = await request.app[ACCOUNTS].authenticate(bearer_token(request), client(request))
    check_scope(request, caller)
    request[_USER] = caller
    return caller


def client(request: web.Request) -> ClientInfo:
    return client_info(request, request.app[SETTINGS].trusted_proxies)


async def actor(request: web.Request) -> Actor:
    return Actor((await current_user(request)).user_id, client(request))
