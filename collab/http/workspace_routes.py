"""`/api/workspaces/*` (with a workspace's sessions) and `/api/invitations/workspace/*`."""

from __future__ import annotations

from aiohttp import web

from auth.roles import Role
from auth.workspace_inputs import InvitationInput, RoleInput, WorkspaceInput, WorkspacePatch
from collab.http.authn import actor
from collab.http.errors import read_json
from collab.http.params import int_query, path_uuid
from collab.http.session_routes import limit_invitation_mail, limit_lookups
from collab.state import INVITATIONS, SESSIONS, WORKSPACE_DOCUMENTS, WORKSPACES
from kernel.validation import parse

routes = web.RouteTableDef()


@routes.post("/api/workspaces")
async def create_workspace(request: web.Request) -> web.Response:
    data = parse(WorkspaceInput, await read_json(request))
    workspace = await request.app[WORKSPACES].create(await actor(request), data)
    return web.json_response(workspace, status=201)


@routes.get("/api/workspaces")
async def list_workspaces(request: web.Request) -> web.Response:
    limit = int_query(request, "limit", 100, 1, 500)
    assert limit is not None
    templates_only = request.query.get("template", "").lower() in ("1", "true", "yes")
    workspaces = await request.app[WORKSPACES].list_visible(
        await actor(request), templates_only=templates_only, limit=limit
    )
    return web.json_response(workspaces)


@routes.get("/api/workspaces/{ws_id}")
async def get_workspace(request: web.Request) -> web.Response:
    workspace = await request.app[WORKSPACES].open(
        await actor(request), path_uuid(request, "ws_id", "workspace")
    )
    return web.json_response(workspace)


@routes.patch("/api/workspaces/{ws_id}")
async def update_workspace(request: web.Request) -> web.Response:
    who = await actor(request)
    patch = parse(WorkspacePatch, await read_json(request))
    workspace = await request.app[WORKSPACES].update(
        who, path_uuid(request, "ws_id", "workspace"), patch
    )
    return web.json_response(workspace)


@routes.delete("/api/workspaces/{ws_id}")
async def delete_workspace(request: web.Request) -> web.Response:
    who = await actor(request)
    ws_id = path_uuid(request, "ws_id", "workspace")
    # Its sessions go with it (ON DELETE CASCADE): their sockets are cut off once it is gone.
    # Named before, when the rows still say which they are; nothing is answered of them.
    session_ids = await request.app[SESSIONS].of_workspace(ws_id)
    await request.app[WORKSPACES].delete(who, ws_id)
    await request.app[SESSIONS].deleted_with_workspace(session_ids)
    return web.Response(status=204)


@routes.get("/api/workspaces/{ws_id}/members")
async def list_members(request: web.Request) -> web.Response:
    members = await request.app[WORKSPACES].members(
        await actor(request), path_uuid(request, "ws_id", "workspace")
    )
    return web.json_response(members)


@routes.put("/api/workspaces/{ws_id}/members/{user_id}")
async def set_member_role(request: web.Request) -> web.Response:
    who = await actor(request)
    data = parse(RoleInput, await read_json(request))
    membership = await request.app[WORKSPACES].set_role(
        who,
        path_uuid(request, "ws_id", "workspace"),
        path_uuid(request, "user_id", "member"),
        Role(data.role),
    )
    return web.json_response(membership)


@routes.delete("/api/workspaces/{ws_id}/members/{user_id}")
async def remove_member(request: web.Request) -> web.Response:
    await request.app[WORKSPACES].remove_member(
        await actor(request),
        path_uuid(request, "ws_id", "workspace"),
        path_uuid(request, "user_id", "member"),
    )
    return web.Response(status=204)


@routes.post("/api/workspaces/{ws_id}/invitations")
async def invite(request: web.Request) -> web.Response:
    who = await actor(request)
    data = parse(InvitationInput, await read_json(request))
    await limit_invitation_mail(request, who.user_id)  # always addressed, always mailed
    invitation = await request.app[INVITATIONS].invite(
        who, path_uuid(request, "ws_id", "workspace"), data
    )
    return web.json_response(invitation, status=201)


@routes.get("/api/workspaces/{ws_id}/invitations")
async def list_invitations(request: web.Request) -> web.Response:
    items = await request.app[INVITATIONS].list_for(
        await actor(request), path_uuid(request, "ws_id", "workspace")
    )
    return web.json_response(items)


@routes.delete("/api/workspaces/{ws_id}/invitations/{invitation_id}")
async def revoke_invitation(request: web.Request) -> web.Response:
    await request.app[INVITATIONS].revoke(
        await actor(request),
        path_uuid(request, "ws_id", "workspace"),
        path_uuid(request, "invitation_id", "invitation"),
    )
    return web.Response(status=204)


@routes.get("/api/workspaces/{ws_id}/sessions")
async def list_sessions(request: web.Request) -> web.Response:
    """The workspace's sessions, for its members, as `GET /api/sessions` lists sessions."""
    who = await actor(request)
    ws_id = path_uuid(request, "ws_id", "workspace")
    # Outsiders are answered as every other workspace route answers them (404, or 403 on a
    # public workspace); the session service then lists what this member may see.
    await request.app[WORKSPACES].require_member(who, ws_id)
    return web.json_response(await request.app[SESSIONS].list_in_workspace(who, ws_id))


@routes.get("/api/invitations/workspace/{token}")
async def look_up_invitation(request: web.Request) -> web.Response:
    """What the `/invitations/{token}` page shows: no login needed."""
    await limit_lookups(request)
    return web.json_response(
        await request.app[INVITATIONS].look_up(request.match_info["token"][:200])
    )


@routes.post("/api/invitations/workspace/{token}/accept")
async def accept_invitation(request: web.Request) -> web.Response:
    membership = await request.app[INVITATIONS].respond(
        await actor(request), request.match_info["token"][:200], accept=True
    )
    return web.json_response(membership)


@routes.post("/api/invitations/workspace/{token}/decline")
async def decline_invitation(request: web.Request) -> web.Response:
    result = await request.app[INVITATIONS].respond(
        await actor(request), request.match_info["token"][:200], accept=False
    )
    return web.json_response(result)


@routes.get("/api/workspaces/{ws_id}/audit-logs")
async def audit_logs(request: web.Request) -> web.Response:
    limit = int_query(request, "limit", 50, 1, 200)
    before = int_query(request, "before", None, 1, 2**31 - 1)
    assert limit is not None
    page = await request.app[WORKSPACES].audit_logs(
        await actor(request), path_uuid(request, "ws_id", "workspace"), limit=limit, before=before
    )
    return web.json_response(page)


@routes.get("/api/workspaces/{ws_id}/document")
async def read_document(request: web.Request) -> web.Response:
    document = await request.app[WORKSPACE_DOCUMENTS].read(
        await actor(request), path_uuid(request, "ws_id", "workspace")
    )
    return web.json_response(document)


@routes.patch("/api/workspaces/{ws_id}/document")
async def change_document(request: web.Request) -> web.Response:
    who = await actor(request)
    body = await read_json(request)
    document = await request.app[WORKSPACE_DOCUMENTS].change(
        who, path_uuid(request, "ws_id", "workspace"), body
    )
    return web.json_response(document)
