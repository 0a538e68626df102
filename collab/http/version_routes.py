"""`/api/sessions/{session_id}/files/{path}/versions`: a file's history (docs/file-versions.md).

Members read versions; editors and owners keep named checkpoints and restore. These routes
are registered before the session routes: `{path:.+}` would otherwise take `…/versions`
as part of a file's path (so a file whose path ends in `/versions` is not readable by
`GET /files/{path}`; its history is).
"""

from __future__ import annotations

import uuid

from aiohttp import web

from collab.documents.paths import InvalidPath, normalise_path
from collab.documents.versions import DocumentVersions
from collab.http.apidoc.model import Operation, documented
from collab.http.apidoc.schemas import TEXT, TIME, UUID, array, nullable, obj
from collab.http.authn import actor
from collab.http.errors import read_json
from collab.http.params import path_uuid
from collab.model import DocumentKey, SessionRole
from collab.state import SESSIONS
from kernel.errors import NotFound
from kernel.validation import Input, Text, parse

VERSIONS = web.AppKey("versions", DocumentVersions)

routes = web.RouteTableDef()

_BASE = "/api/sessions/{session_id}/files/{path:.+}/versions"
# Only ids that look like one: `…/versions/util.py` stays a file in a `versions` folder.
_ONE = _BASE + "/{version_id:[0-9a-fA-F-]{36}}"
_TAG = "Sessions"


class CheckpointInput(Input):
    name: Text(200, min_length=1)  # type: ignore[valid-type]


_VERSION = obj(
    {
        "version_id": UUID,
        "created_at": TIME,
        "authors": array(obj({"user_id": UUID, "username": TEXT})),
        "size": {"type": "integer"},
    },
    {
        "name": nullable(TEXT),
        "kind": {"enum": ["compaction", "checkpoint", "restore"]},
        "created_by": nullable(UUID),
    },
)
_RESTORED = obj(
    {"restored": UUID, "size": {"type": "integer"}},
    {"saved_as": nullable(UUID), "matches": {"type": "boolean"}},
)


async def _file(request: web.Request, role: SessionRole) -> tuple[uuid.UUID, DocumentKey]:
    who = await actor(request)
    session_id = path_uuid(request, "session_id", "session")
    await request.app[SESSIONS].authorize(who, session_id, role)
    try:
        path = normalise_path(request.match_info["path"])
    except InvalidPath:
        raise NotFound("No such file.") from None
    return who.user_id, await request.app[SESSIONS].document_key(session_id, path)


@routes.get(_BASE)
@documented(Operation("A file's versions, newest first", _TAG, answer=array(_VERSION)))
async def list_versions(request: web.Request) -> web.Response:
    _, key = await _file(request, SessionRole.VIEWER)
    return web.json_response(await request.app[VERSIONS].history(key))


@routes.post(_BASE)
@documented(
    Operation(
        "Keep the file's current text as a named checkpoint (editors)",
        _TAG,
        body=CheckpointInput,
        status=201,
        answer=_VERSION,
    )
)
async def create_checkpoint(request: web.Request) -> web.Response:
    # Who may, first: a refused caller learns nothing from the body's validation.
    user_id, key = await _file(request, SessionRole.EDITOR)
    body = parse(CheckpointInput, await read_json(request))
    version = await request.app[VERSIONS].checkpoint(user_id, key, body.name)
    return web.json_response(version, status=201)


@routes.get(_ONE)
@documented(Operation("A version's text", _TAG, answer=TEXT, media="text/plain"))
async def read_version(request: web.Request) -> web.Response:
    _, key = await _file(request, SessionRole.VIEWER)
    version_id = path_uuid(request, "version_id", "version")
    text = await request.app[VERSIONS].text(key, version_id)
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


@routes.post(_BASE + "/{version_id}/restore")  # no file route takes POST: any id is ours
@documented(
    Operation(
        "Make the file's text the version's, as a new edit (editors)",
        _TAG,
        answer=_RESTORED,
        description="The text just before is kept as a version (kind `restore`), so a "
        "restore is undone by restoring that one. Connected clients receive the change "
        "like any edit.",
    )
)
async def restore_version(request: web.Request) -> web.Response:
    user_id, key = await _file(request, SessionRole.EDITOR)
    version_id = path_uuid(request, "version_id", "version")
    return web.json_response(await request.app[VERSIONS].restore(user_id, key, version_id))
