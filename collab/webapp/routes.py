"""Serves the web app: hashed assets under `/assets/`, and `index.html` for every page route.

The app routes in the browser, so any GET that is not the API, Socket.IO, a preview or an
asset answers the same page (its own router shows "not found" for unknown paths). Assets
carry a content hash in their names, so they are cached for good; the page is never cached,
so a new release is picked up on the next load.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

DIST = Path(__file__).parent / "dist"
# Every path but the API's, Socket.IO's, the previews', the assets' and the probes': those
# keep their own 404 and 405 answers in the contract's shape.
_PAGE_PATH = r"(?!api/|api$|socket\.io|preview/|assets/|healthz$|readyz$|metrics$).+"

routes = web.RouteTableDef()


def _page() -> web.FileResponse:
    # The type is named here, not guessed when sent: the security headers read it.
    return web.FileResponse(
        DIST / "index.html",
        headers={"Cache-Control": "no-cache", "Content-Type": "text/html; charset=utf-8"},
    )


@routes.get("/assets/{name}")
async def asset(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    path = DIST / name
    # Only the bundle's own files: no dot-segments, no folders, nothing but what build wrote.
    if "/" in name or name.startswith(".") or name == "index.html" or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Cache-Control": "public, max-age=31536000, immutable"})


@routes.get("/")
async def root(request: web.Request) -> web.FileResponse:
    return _page()


@routes.get("/{path:" + _PAGE_PATH + "}")
async def page(request: web.Request) -> web.FileResponse:
    return _page()
