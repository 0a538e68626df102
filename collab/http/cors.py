"""CORS for `/api/*`: the origins in `COLLAB_ALLOWED_ORIGINS` may call the API from a browser.

The same list Socket.IO uses. An allowed origin gets its own origin back (never `*`, since
credentials are allowed), a preflight is answered here before routing can say 405, and any
other origin gets no CORS headers at all, so the browser keeps the answer from its script.
Paths outside `/api/` (the app's pages, assets, previews) never carry CORS headers.
"""

from __future__ import annotations

from aiohttp import hdrs, web

from collab.http.errors import ApiError, Handler, error_response
from collab.state import SETTINGS

ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE"
ALLOW_HEADERS = "Authorization, Content-Type, X-Collab-Client"
EXPOSE_HEADERS = "Retry-After, X-Request-Id"
MAX_AGE = "600"


def _is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def _allowed(request: web.Request, origin: str) -> bool:
    wanted = origin.rstrip("/").lower()
    return any(wanted == o.rstrip("/").lower() for o in request.app[SETTINGS].allowed_origins)


def _add_vary(response: web.StreamResponse) -> None:
    vary = response.headers.get(hdrs.VARY, "")
    if "origin" not in vary.lower():
        response.headers[hdrs.VARY] = f"{vary}, Origin" if vary else "Origin"


def _grant(response: web.StreamResponse, origin: str) -> None:
    response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
    response.headers[hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS] = "true"
    response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = EXPOSE_HEADERS
    _add_vary(response)


def _preflight(request: web.Request, origin: str) -> web.StreamResponse:
    if not _allowed(request, origin):
        refused = error_response(
            ApiError(403, "forbidden", f"The origin {origin[:100]!r} may not call this API.")
        )
        _add_vary(refused)
        return refused
    response = web.Response(status=204)
    response.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = ALLOW_METHODS
    response.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = ALLOW_HEADERS
    response.headers[hdrs.ACCESS_CONTROL_MAX_AGE] = MAX_AGE
    _grant(response, origin)
    return response


# The request's Origin when it may read the answer, "" when not (the answer still varies by
# Origin); `add_on_prepare` applies it to whatever answers, streamed responses included.
_ORIGIN = web.RequestKey("collab_cors_origin", str)


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not _is_api(request.path):
        return await handler(request)
    origin = request.headers.get(hdrs.ORIGIN, "")
    if (
        request.method == hdrs.METH_OPTIONS
        and origin
        and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
    ):
        return _preflight(request, origin)
    request[_ORIGIN] = origin if origin and _allowed(request, origin) else ""
    return await handler(request)


async def add_on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """`app.on_response_prepare`: just before any answer's headers go out."""
    origin = request.get(_ORIGIN)
    if origin is None:
        return
    if origin:
        _grant(response, origin)
    else:
        _add_vary(response)  # the answer differs by Origin, whatever it is
