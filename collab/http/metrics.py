"""`GET /metrics` (Prometheus text format) and the middleware that times every request.

Who may scrape: `/metrics` on the app's own listener answers only a caller that presents
`Authorization: Bearer <COLLAB_METRICS_TOKEN>`; without a token configured it is 404, so a
server never publishes its numbers by accident. `COLLAB_METRICS_PORT` adds a listener of
its own on 127.0.0.1 that serves `/metrics` without a token (the loopback interface is the
protection): for a Prometheus, or an agent, on the same machine.

Requests are labelled by route template (`/api/sessions/{session_id}`), never by path, so
the series stay bounded whatever clients send. Only this module and the scrape read the
registry; everything else reports through `kernel.metrics`.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from collab.http.errors import Handler, error_body
from collab.state import SETTINGS
from kernel import metrics

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

# Awaited before each scrape: readings that need I/O (deployments by status, from
# PostgreSQL) refresh what their `kernel.metrics` watcher reports.
Refresh = Callable[[], Awaitable[None]]
METRICS_REFRESH = web.AppKey("metrics_refresh", list[Refresh])

UNMATCHED = "unmatched"  # no route: a 404 or 405 from the router, labelled as one series
PREVIEW_HOST = "preview host"


def _route_of(request: web.Request) -> str:
    info = request.match_info
    route = getattr(info, "route", None)
    resource = getattr(route, "resource", None)
    if resource is None or getattr(info, "http_exception", None) is not None:
        return UNMATCHED
    return str(resource.canonical)


def metrics_middleware(
    *, preview_host: bool = False
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Count and time each request. Placed outside the error middleware, so it sees the
    status actually answered. `preview_host`: the chain a preview's own host runs through
    (the router's match means nothing there)."""

    @web.middleware
    async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:  # redirects, raised on purpose
            status = exc.status
            raise
        except BaseException:  # cancelled (the client left) or unhandled
            status = 499
            raise
        finally:
            route = PREVIEW_HOST if preview_host else _route_of(request)
            metrics.http_request(request.method, route, status, time.perf_counter() - started)
            if preview_host or route.startswith("/preview/"):
                metrics.preview_request(status)

    return measure


def _authorised(request: web.Request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Bytes that are not UTF-8 reach us as lone surrogates: kept as sent, never an error.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8", "surrogateescape"), token.encode()
    )


async def _render(request: web.Request) -> web.Response:
    for refresh in request.app.get(METRICS_REFRESH, []):
        try:
            await refresh()
        except Exception as exc:  # a stale reading beats a failed scrape
            log.warning("a metrics reading was not refreshed: %s: %s", type(exc).__name__, exc)
    body = generate_latest(metrics.REGISTRY)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.get("/metrics")
async def scrape(request: web.Request) -> web.Response:
    secret = request.app[SETTINGS].metrics_token
    token = secret.get_secret_value() if secret is not None else ""
    if not token:
        return web.json_response(error_body("not_found", "No such page."), status=404)
    if not _authorised(request, token):
        return web.json_response(
            error_body("unauthorized", "Metrics need the operator's metrics token."),
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return await _render(request)


def loopback_listener(port: int) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context serving `/metrics` on 127.0.0.1:`port` without a token, for the
    life of the main application."""

    async def serve(app: web.Application) -> AsyncIterator[None]:
        side = web.Application()
        side[METRICS_REFRESH] = app[METRICS_REFRESH]
        side.router.add_get("/metrics", _render)
        runner = web.AppRunner(side, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        log.info("metrics on http://127.0.0.1:%d/metrics", port)
        try:
            yield
        finally:
            await runner.cleanup()

    return serve
