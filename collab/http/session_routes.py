"""`/api/sessions/*` and `/api/join/{token}` (look up, join, decline a join link)."""

from __future__ import annotations

import uuid

from aiohttp import web

from auth.rate_limit import Limit, RateLimiter
from collab.documents.paths import InvalidPath, normalise_path
from collab.http.authn import actor
from collab.http.client_info import client_info
from collab.http.errors import read_json
from collab.http.params import path_uuid
from collab.model import DocumentKey, SessionRole
from collab.sessions.validation import (
    ParticipantPatch,
    RenameInput,
    SessionInput,
    SessionInvitationInput,
    SessionPatch,
)
from collab.state import DOCUMENTS, REDIS, SESSIONS, SETTINGS
from kernel.errors import NotFound, ValidationFailed
from kernel.validation import parse

routes = web.RouteTableDef()

# Invitation look-ups need no login: the 256-bit token is the secret, and this budget per
# client network keeps anyone from trying tokens in bulk (a person opens a link or two).
LOOKUP_LIMITS = {"invitation_lookup:ip": Limit(60, 60)}
# An addressed invitation (session or workspace) mails its address, with the inviter's words
# in it: one budget per inviting account, so no account is an open mail relay. A person
# inviting their team never meets it; links addressed to nobody mail nobody and are not
# counted.
INVITATION_MAIL_LIMIT = Limit(50, 3600)
_MAIL_LIMITS = {"invitation_mail:account": INVITATION_MAIL_LIMIT}


async def limit_lookups(request: web.Request) -> None:
    """Count one invitation look-up from this client's network (429 beyond the budget)."""
    client = client_info(request, request.app[SETTINGS].trusted_proxies)
    await RateLimiter(request.app[REDIS], LOOKUP_LIMITS).hit_ip("invitation_lookup", client.ip)


async def limit_invitation_mail(request: web.Request, inviter: uuid.UUID) -> None:
    """Count one mailed invitation of this account (429 beyond the budget)."""
    await RateLimiter(request.app[REDIS], _MAIL_LIMITS).hit_account("invitation_mail", str(inviter))


def _token(request: web.Request) -> str:
    return request.match_info["token"][:200]


@routes.post("/api/sessions")
async def create_session(request: web.Request) -> web.Response:
    data = parse(SessionInput, await read_json(request))
    return web.json_response(
        await request.app[SESSIONS].create(await actor(request), data), status=201
    )


@routes.get("/api/sessions")
async def list_sessions(request: web.Request) -> web.Response:
    return web.json_response(await request.app[SESSIONS].list_for(await actor(request)))


@routes.get("/api/sessions/{session_id}")
async def get_session(request: web.Request) -> web.Response:
    session_id = path_uuid(request, "session_id", "session")
    return web.json_response(await request.app[SESSIONS].get(await actor(request), session_id))


@routes.patch("/api/sessions/{session_id}")
async def update_session(request: web.Request) -> web.Response:
    who = await actor(request)
    patch = parse(SessionPatch, await read_json(request))
    session_id = path_uuid(request, "session_id", "session")
    return web.json_response(await request.app[SESSIONS].update(who, session_id, patch))


@routes.delete("/api/sessions/{session_id}")
async def delete_session(request: web.Request) -> web.Response:
    await request.app[SESSIONS].delete(
        await actor(request), path_uuid(request, "session_id", "session")
    )
    return web.Response(status=204)


@routes.get("/api/sessions/{session_id}/participants")
async def list_participants(request: web.Request) -> web.Response:
    session_id = path_uuid(request, "session_id", "session")
    return web.json_response(
        await request.app[SESSIONS].participants(await actor(request), session_id)
    )


@routes.patch("/api/sessions/{session_id}/participants/{participant_id}")
async def update_participant(request: web.Request) -> web.Response:
    who = await actor(request)
    data = parse(ParticipantPatch, await read_json(request))
    updated = await request.app[SESSIONS].set_role(
        who,
        path_uuid(request, "session_id", "session"),
        path_uuid(request, "participant_id", "participant"),
        data,
    )
    return web.json_response(updated)


@routes.delete("/api/sessions/{session_id}/participants/{participant_id}")
async def remove_participant(request: web.Request) -> web.Response:
    await request.app[SESSIONS].remove(
        await actor(request),
        path_uuid(request, "session_id", "session"),
        path_uuid(request, "participant_id", "participant"),
    )
    return web.Response(status=204)


@routes.post("/api/sessions/{session_id}/invitations")
async def invite(request: web.Request) -> web.Response:
    who = await actor(request)
    data = parse(SessionInvitationInput, await read_json(request))
    if data.email is not None:
        await limit_invitation_mail(request, who.user_id)
    invitation = await request.app[SESSIONS].invite(
        who, path_uuid(request, "session_id", "session"), data
    )
    return web.json_response(invitation, status=201)


@routes.get("/api/sessions/{session_id}/invitations")
async def list_invitations(request: web.Request) -> web.Response:
    session_id = path_uuid(request, "session_id", "session")
    return web.json_response(
        await request.app[SESSIONS].invitations(await actor(request), session_id)
    )


@routes.delete("/api/sessions/{session_id}/invitations/{invitation_id}")
async def revoke_invitation(request: web.Request) -> web.Response:
    await request.app[SESSIONS].revoke(
        await actor(request),
        path_uuid(request, "session_id", "session"),
        path_uuid(request, "invitation_id", "join link"),
    )
    return web.Response(status=204)


@routes.get("/api/join/{token}")
async def look_up_join_link(request: web.Request) -> web.Response:
    """What the `/join/{token}` page shows: no login needed."""
    await limit_lookups(request)
    return web.json_response(await request.app[SESSIONS].look_up(_token(request)))


@routes.post("/api/join/{token}")
async def join(request: web.Request) -> web.Response:
    result = await request.app[SESSIONS].join(await actor(request), _token(request))
    return web.json_response(result)


@routes.post("/api/join/{token}/decline")
async def decline_join_link(request: web.Request) -> web.Response:
    await request.app[SESSIONS].decline(await actor(request), _token(request))
    return web.Response(status=204)


@routes.get("/api/sessions/{session_id}/files")
async def list_files(request: web.Request) -> web.Response:
    session_id = path_uuid(request, "session_id", "session")
    await request.app[SESSIONS].authorize(await actor(request), session_id, SessionRole.VIEWER)
    files = await request.app[DOCUMENTS].files(await request.app[SESSIONS].document_key(session_id))
    return web.json_response(files)


@routes.get("/api/sessions/{session_id}/files/{path:.+}")
async def read_file(request: web.Request) -> web.Response:
    session_id = path_uuid(request, "session_id", "session")
    await request.app[SESSIONS].authorize(await actor(request), session_id, SessionRole.VIEWER)
    text = await request.app[DOCUMENTS].text(await _file_key(request, session_id))
    if text is None:
        raise NotFound("No such file.")
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


async def _file_key(request: web.Request, session_id: uuid.UUID) -> DocumentKey:
    try:
        path = normalise_path(request.match_info["path"])
    except InvalidPath:
        raise NotFound("No such file.") from None
    return await request.app[SESSIONS].document_key(session_id, path)


@routes.delete("/api/sessions/{session_id}/files/{path:.+}")
async def delete_file(request: web.Request) -> web.Response:
    """Extension: delete a file (editors and owners); members get `file:deleted`."""
    who = await actor(request)
    session_id = path_uuid(request, "session_id", "session")
    await request.app[SESSIONS].authorize(who, session_id, SessionRole.EDITOR)
    await request.app[DOCUMENTS].delete(who, await _file_key(request, session_id))
    return web.Response(status=204)


@routes.patch("/api/sessions/{session_id}/files/{path:.+}")
async def rename_file(request: web.Request) -> web.Response:
    """Extension: rename a file with `{"path": new}`; members get `file:renamed`."""
    who = await actor(request)
    session_id = path_uuid(request, "session_id", "session")
    body = parse(RenameInput, await read_json(request))
    await request.app[SESSIONS].authorize(who, session_id, SessionRole.EDITOR)
    try:
        new_path = normalise_path(body.path)
    except InvalidPath as exc:
        raise ValidationFailed({"path": str(exc)}) from None
    key = await _file_key(request, session_id)
    result = await request.app[DOCUMENTS].rename(who, key, new_path)
    return web.json_response(result)
