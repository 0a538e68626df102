"""`/api/openapi.json`, `/api/asyncapi.json` and `/api/docs` (Redoc, served from the package).

The OpenAPI document is built from this application's router on first request and kept.
The documentation page loads Redoc's standalone bundle, copied from npm into
`collab/webapp/docs` by `web/docs/build.mjs` (committed, like the web app's bundle): no
CDN, no Node at run time.
"""

from __future__ import annotations

import json
import weakref
from pathlib import Path

from aiohttp import web

from collab.http.apidoc import asyncapi, openapi

DOCS = Path(__file__).parent.parent / "webapp" / "docs"
# Built once per application: routes do not change while it runs.
_BUILT: weakref.WeakKeyDictionary[web.Application, bytes] = weakref.WeakKeyDictionary()

# Redoc initialises itself on the <redoc> element: no inline script. It styles itself with
# inline styles, draws data: images and runs its search in a blob: worker.
_PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>collab API</title>
</head>
<body>
<redoc spec-url="/api/openapi.json"></redoc>
<script src="/api/docs/redoc.standalone.js"></script>
</body>
</html>
"""

routes = web.RouteTableDef()


def _json(body: bytes) -> web.Response:
    return web.Response(
        body=body, content_type="application/json", headers={"Cache-Control": "no-cache"}
    )


@routes.get("/api/openapi.json")
async def openapi_document(request: web.Request) -> web.Response:
    body = _BUILT.get(request.app)
    if body is None:
        body = _BUILT[request.app] = json.dumps(openapi.build(request.app).document).encode()
    return _json(body)


@routes.get("/api/asyncapi.json")
async def asyncapi_document(request: web.Request) -> web.Response:
    return _json(json.dumps(asyncapi.DOCUMENT).encode())


@routes.get("/api/docs")
async def docs_page(request: web.Request) -> web.Response:
    return web.Response(
        text=_PAGE,
        content_type="text/html",
        headers={"Content-Security-Policy": _PAGE_POLICY, "Cache-Control": "no-cache"},
    )


@routes.get("/api/docs/{name}")
async def docs_asset(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    path = DOCS / name
    # Only the bundle's own script (FileResponse sends its .gz sibling to gzip browsers).
    if not name.endswith(".js") or "/" in name or name.startswith(".") or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(
        path,
        headers={"Cache-Control": "no-cache", "Content-Type": "text/javascript; charset=utf-8"},
    )
