"""Audit logs people may read: `/api/auth/me/audit-logs` (their security events) and
`/api/sessions/{session_id}/audit-logs` (owners; the session's deployments included)."""

from __future__ import annotations

from aiohttp import web

from collab.http.authn import actor, current_user
from collab.http.params import int_query, path_uuid
from collab.model import SessionRole
from collab.state import DB_POOL, DEPLOYMENTS, SESSIONS
from kernel.audit import AuditLog, page_of

routes = web.RouteTableDef()


def paging(request: web.Request) -> tuple[int, int | None]:
    """`?limit` (1 to 200, default 50) and `?before` (a log_id), as workspace routes read them."""
    limit = int_query(request, "limit", 50, 1, 200)
    assert limit is not None
    return limit, int_query(request, "before", None, 1, 2**31 - 1)


@routes.get("/api/auth/me/audit-logs")
async def my_audit_logs(request: web.Request) -> web.Response:
    user = await current_user(request)
    limit, before = paging(request)
    items = await AuditLog().of_user(request.app[DB_POOL], user.user_id, limit=limit, before=before)
    return web.json_response(page_of(items, limit))


@routes.get("/api/sessions/{session_id}/audit-logs")
async def session_audit_logs(request: web.Request) -> web.Response:
    who = await actor(request)
    session_id = path_uuid(request, "session_id", "session")
    limit, before = paging(request)
    pool = request.app[DB_POOL]
    await request.app[SESSIONS].require(
        pool, who, session_id, SessionRole.OWNER, even_if_archived=True
    )
    # A deployment's entries are audited under its own id: the session's log takes in those
    # of its deployments, live and past.
    deployments = request.app[DEPLOYMENTS]
    deployment_ids = {d["deployment_id"] for d in await deployments.live_for(session_id)}
    deployment_ids |= {
        d["deployment_id"] for d in await deployments.past_for(session_id) if d["deployment_id"]
    }
    targets = [("session", str(session_id))] + [("deployment", i) for i in deployment_ids]
    items = await AuditLog().about(pool, targets, limit=limit, before=before)
    return web.json_response(page_of(items, limit))
