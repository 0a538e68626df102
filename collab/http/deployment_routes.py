"""The deployment routes of the contract."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from aiohttp import web
from pydantic import Field

from collab.http.authn import actor
from collab.http.errors import read_json
from collab.http.params import path_uuid
from collab.model import SessionRole
from collab.state import DB_POOL, DEPLOYMENTS, SESSIONS
from containers.lifecycle import deployment_json
from kernel.context import Actor
from kernel.errors import NotFound, ValidationFailed
from kernel.validation import Input, parse

routes = web.RouteTableDef()


class DeployInput(Input):
    public: bool = False


class Tail(Input):
    tail: Annotated[int, Field(ge=1, le=10_000)] = 200


@routes.post("/api/sessions/{session_id}/deployments")
async def deploy(request: web.Request) -> web.Response:
    who = await actor(request)
    # No body at all means the defaults; any body is read by the strict `read_json` (the
    # same bytes: aiohttp keeps what `read()` returned).
    has_body = bool(await request.read())
    data = parse(DeployInput, await read_json(request)) if has_body else DeployInput()
    session, _ = await request.app[SESSIONS].require(
        request.app[DB_POOL], who, path_uuid(request, "session_id", "session"), SessionRole.EDITOR
    )
    started = await request.app[DEPLOYMENTS].deploy(who, session, data.public)
    return web.json_response(started, status=202)


@routes.get("/api/sessions/{session_id}/deployments")
async def live_deployments(request: web.Request) -> web.Response:
    session_id = path_uuid(request, "session_id", "session")
    await request.app[SESSIONS].authorize(await actor(request), session_id, SessionRole.VIEWER)
    return web.json_response(await request.app[DEPLOYMENTS].live_for(session_id))


@routes.get("/api/sessions/{session_id}/past-deployments")
async def past_deployments(request: web.Request) -> web.Response:
    session_id = path_uuid(request, "session_id", "session")
    await request.app[SESSIONS].authorize(await actor(request), session_id, SessionRole.VIEWER)
    return web.json_response(await request.app[DEPLOYMENTS].past_for(session_id))


async def _deployment(request: web.Request, minimum: SessionRole) -> tuple[asyncpg.Record, Actor]:
    who = await actor(request)
    row = await request.app[DEPLOYMENTS].get(path_uuid(request, "deployment_id", "deployment"))
    try:
        await request.app[SESSIONS].authorize(who, row["session_id"], minimum)
    except NotFound:
        raise NotFound("No such deployment.") from None
    return row, who


@routes.get("/api/deployments/{deployment_id}")
async def get_deployment(request: web.Request) -> web.Response:
    row, _ = await _deployment(request, SessionRole.VIEWER)
    return web.json_response(deployment_json(row))


@routes.post("/api/deployments/{deployment_id}/stop")
async def stop_deployment(request: web.Request) -> web.Response:
    row, who = await _deployment(request, SessionRole.EDITOR)
    await request.app[DEPLOYMENTS].stop(who, row["deployment_id"], "stopped on request")
    return web.json_response(
        {"deployment_id": str(row["deployment_id"]), "status": "stopped"}, status=202
    )


@routes.get("/api/deployments/{deployment_id}/logs")
async def deployment_logs(request: web.Request) -> web.Response:
    row, _ = await _deployment(request, SessionRole.VIEWER)
    try:
        tail = parse(Tail, {"tail": int(request.query.get("tail", "200"))}).tail
    except ValueError:
        raise ValidationFailed({"tail": "must be a whole number"}) from None
    # A running deployment's from its container; a past one's as kept when it stopped.
    text = await request.app[DEPLOYMENTS].logs(row, tail)
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


@routes.get("/api/deployments/{deployment_id}/stats")
async def deployment_stats(request: web.Request) -> web.Response:
    """The container's usage, read now from the engine (409 unless it is running)."""
    row, _ = await _deployment(request, SessionRole.VIEWER)
    return web.json_response(await request.app[DEPLOYMENTS].stats(row))
