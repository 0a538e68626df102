"""`/healthz` (the process answers) and `/readyz` (its dependencies answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from collab.http.errors import error_body
from collab.state import DB_POOL, DOCKER, REDIS, SETTINGS, WORKSPACE_DOCUMENTS

CHECK_TIMEOUT = 2.0
routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _probe(check: Callable[[], Awaitable[object]]) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT)
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT:g}s"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    return "ok"


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    app = request.app
    pool, redis, docker = app[DB_POOL], app[REDIS], app[DOCKER]
    checks: dict[str, Callable[[], Awaitable[object]]] = {
        "postgres": lambda: pool.fetchval("SELECT 1"),
        "redis": redis.ping,
    }
    if docker is not None:
        checks["docker"] = docker.ping
    if app[SETTINGS].mongo_url is not None:
        checks["mongo"] = app[WORKSPACE_DOCUMENTS].store.ping
    names = list(checks)
    outcomes = await asyncio.gather(*(_probe(checks[name]) for name in names))
    results = dict(zip(names, outcomes, strict=True))
    failing = [name for name, result in results.items() if result != "ok"]
    if failing:
        message = f"{', '.join(failing)} {'is' if len(failing) == 1 else 'are'} not answering"
        return web.json_response(error_body("unavailable", message, results), status=503)
    return web.json_response({"status": "ready", "checks": results})
