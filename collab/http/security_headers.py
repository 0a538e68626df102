"""Security headers on every answer of the app's origin (never on a preview's).

The app's HTML page gets a strict Content-Security-Policy: scripts only from our own
files, never inline; styles may be inline because CodeMirror and y-codemirror.next set
style attributes. Every other answer (JSON, assets, errors) gets a policy that allows
nothing at all, so a response opened as a document can run nothing. A header a handler
set itself is kept. Previews (`/preview/` paths here; preview hosts are answered by an
earlier middleware) carry their author's own headers.
"""

from __future__ import annotations

from aiohttp import hdrs, web

from collab.http.errors import Handler

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'"

_COMMON = {
    "X-Content-Type-Options": "nosniff",
    # Join links carry their token in the path: never hand it to another site.
    "Referrer-Policy": "no-referrer",
}


def _is_html(response: web.StreamResponse) -> bool:
    declared = response.headers.get(hdrs.CONTENT_TYPE, "")
    return declared.split(";")[0].strip().lower() == "text/html"


def _add(response: web.StreamResponse) -> None:
    for name, value in _COMMON.items():
        response.headers.setdefault(name, value)
    policy = PAGE_POLICY if _is_html(response) else OTHER_POLICY
    response.headers.setdefault("Content-Security-Policy", policy)


# Set on requests of the app's origin; `add_on_prepare` then adds the headers to whatever
# answers them, a response a handler streams itself (the archive download) included.
_APPLIES = web.RequestKey("collab_security_headers", bool)


@web.middleware
async def security_headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/preview/"):
        request[_APPLIES] = True
    return await handler(request)


async def add_on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """`app.on_response_prepare`: just before any answer's headers go out."""
    if request.get(_APPLIES):
        _add(response)
