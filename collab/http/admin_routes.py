"""`/api/admin/...`: platform administrators (users.is_admin) only; anyone else gets 403.

Every route lives under /api/admin so the API-key edge can ask for the `admin` scope by
prefix.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from aiohttp import web
from pydantic import Field

from collab.http.audit_routes import paging
from collab.http.authn import actor
from collab.http.errors import read_json
from collab.http.params import int_query, path_uuid
from collab.lifecycle_wiring import ADMINS
from collab.state import DB_POOL
from kernel.audit import AuditLog, page_of
from kernel.errors import ValidationFailed
from kernel.validation import Input, parse

routes = web.RouteTableDef()


class AdminActionInput(Input):
    reason: Annotated[str, Field(max_length=500)] | None = None


async def _reason(request: web.Request) -> str | None:
    if not await request.read():
        return None
    return parse(AdminActionInput, await read_json(request)).reason


def _uuid_query(request: web.Request, name: str) -> uuid.UUID | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ValidationFailed({name: "must be a UUID"}) from None


@routes.get("/api/admin/users")
async def list_users(request: web.Request) -> web.Response:
    who = await actor(request)
    limit = int_query(request, "limit", 50, 1, 200)
    assert limit is not None
    q = request.query.get("q", "").strip()[:255] or None
    answer = await request.app[ADMINS].users(
        who, q=q, limit=limit, before=_uuid_query(request, "before")
    )
    return web.json_response(answer)


@routes.get("/api/admin/users/{user_id}")
async def get_user(request: web.Request) -> web.Response:
    who = await actor(request)
    await request.app[ADMINS].require_admin(who)
    user = await request.app[ADMINS].user(who, path_uuid(request, "user_id", "user"))
    return web.json_response(user)


@routes.post("/api/admin/users/{user_id}/deactivate")
async def deactivate(request: web.Request) -> web.Response:
    who = await actor(request)
    await request.app[ADMINS].require_admin(who)
    user = await request.app[ADMINS].set_active(
        who, path_uuid(request, "user_id", "user"), False, await _reason(request)
    )
    return web.json_response(user)


@routes.post("/api/admin/users/{user_id}/reactivate")
async def reactivate(request: web.Request) -> web.Response:
    who = await actor(request)
    await request.app[ADMINS].require_admin(who)
    user = await request.app[ADMINS].set_active(
        who, path_uuid(request, "user_id", "user"), True, await _reason(request)
    )
    return web.json_response(user)


@routes.post("/api/admin/users/{user_id}/logout")
async def force_logout(request: web.Request) -> web.Response:
    who = await actor(request)
    await request.app[ADMINS].require_admin(who)
    await request.app[ADMINS].logout(
        who, path_uuid(request, "user_id", "user"), await _reason(request)
    )
    return web.Response(status=204)


@routes.get("/api/admin/audit-logs")
async def audit_logs(request: web.Request) -> web.Response:
    who = await actor(request)
    await request.app[ADMINS].require_admin(who)
    limit, before = paging(request)
    target = request.query.get("target", "")  # "type:id", e.g. user:<uuid>
    target_type, _, target_id = target.partition(":")
    items = await AuditLog().search(
        request.app[DB_POOL],
        actor=_uuid_query(request, "actor"),
        target_type=target_type[:50] or None,
        target_id=target_id[:255] or None,
        action=request.query.get("action", "")[:100] or None,
        ws_id=_uuid_query(request, "ws_id"),
        limit=limit,
        before=before,
    )
    return web.json_response(page_of(items, limit))
