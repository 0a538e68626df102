"""`GET /api/sessions/{id}/archive.zip`, `GET /api/workspaces/{ws_id}/archive.zip` (every
file, streamed) and `POST /api/sessions/{id}/import` (a zip: raw `application/zip` body, or
the first file of a `multipart/form-data` one). See docs/import-export-git.md."""

from __future__ import annotations

from typing import Any

from aiohttp import BodyPartReader, StreamReader, web

from auth.roles import Role
from collab.archive.service import Archives
from collab.archive.zips import BadArchive, Limits
from collab.http.apidoc.model import Operation, documented
from collab.http.authn import actor
from collab.http.errors import ApiError
from collab.http.params import path_uuid
from collab.model import DocumentKey, SessionRole
from collab.state import DB_POOL, DOCUMENTS, SESSIONS, SETTINGS, WORKSPACE_ACCESS, WORKSPACES
from kernel.audit import AuditEntry, AuditLog
from kernel.context import Actor

routes = web.RouteTableDef()

ZIP = {"type": "string", "contentEncoding": "binary", "description": "a zip archive"}
IMPORTED = {
    "type": "object",
    "properties": {
        kind: {"type": "array", "items": {"type": "string"}}
        for kind in ("created", "updated", "unchanged")
    },
    "required": ["created", "updated", "unchanged"],
}
_CHUNK = 64 * 1024


def archives(app: web.Application) -> Archives:
    settings = app[SETTINGS]
    limits = Limits(
        max_files=settings.import_max_files,
        max_unpacked_bytes=settings.import_max_unpacked_bytes,
        max_file_bytes=settings.import_max_file_bytes,
    )
    return Archives(app[DOCUMENTS], limits, settings.max_files_per_scope)


async def _stream(request: web.Request, scope: DocumentKey, name: str) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{name}.zip"',
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    await archives(request.app).export(scope, response.write)
    await response.write_eof()
    return response


@routes.get("/api/sessions/{session_id}/archive.zip")
@documented(
    Operation(
        "Every file of the session, as a zip (streamed)",
        "Sessions",
        answer=ZIP,
        media="application/zip",
    )
)
async def session_archive(request: web.Request) -> web.StreamResponse:
    session_id = path_uuid(request, "session_id", "session")
    await request.app[SESSIONS].authorize(await actor(request), session_id, SessionRole.VIEWER)
    scope = await request.app[SESSIONS].document_key(session_id)
    return await _stream(request, scope, f"session-{session_id}")


@routes.get("/api/workspaces/{ws_id}/archive.zip")
@documented(
    Operation(
        "Every file of the workspace, as a zip (streamed)",
        "Workspaces",
        answer=ZIP,
        media="application/zip",
    )
)
async def workspace_archive(request: web.Request) -> web.StreamResponse:
    ws_id = path_uuid(request, "ws_id", "workspace")
    who = await actor(request)
    await request.app[WORKSPACES].require(request.app[DB_POOL], who, ws_id, Role.VIEWER)
    # Its files are refused, as on every other route, to a member without a required TOTP.
    await request.app[WORKSPACE_ACCESS].check_mfa(ws_id, who.user_id)
    return await _stream(request, DocumentKey(ws_id, "", in_workspace=True), f"workspace-{ws_id}")


async def audit_bulk_write(
    request: web.Request, who: Actor, action: str, scope: DocumentKey, new_value: dict[str, Any]
) -> None:
    """Audit an import or a git pull/push: many files changed at once, so the entry holds
    counts (and the commit), not every path."""
    await AuditLog().record(
        request.app[DB_POOL],
        AuditEntry(
            action,
            who.user_id,
            scope.scope_id if scope.in_workspace else None,
            "workspace" if scope.in_workspace else "session",
            str(scope.scope_id),
            new_value=new_value,
        ),
        who.client,
    )


def written_counts(written: dict[str, list[str]]) -> dict[str, int]:
    return {kind: len(paths) for kind, paths in written.items()}


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"The archive is larger than {limit} bytes.")


async def _read_limited(reader: StreamReader | BodyPartReader, limit: int) -> bytes:
    data = bytearray()
    while True:
        chunk = (
            await reader.read_chunk(_CHUNK)
            if isinstance(reader, BodyPartReader)
            else await reader.read(_CHUNK)
        )
        if not chunk:
            return bytes(data)
        data += chunk
        if len(data) > limit:
            raise _too_large(limit)


async def _upload(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    if request.content_type == "multipart/form-data":
        try:
            reader = await request.multipart()
            async for part in reader:
                if isinstance(part, BodyPartReader) and part.filename is not None:
                    return await _read_limited(part, limit)
        except ValueError as exc:  # aiohttp's word for a malformed form (no boundary...)
            raise ApiError(
                422, "invalid_archive", f"The form is not valid multipart/form-data: {exc}."
            ) from None
        raise ApiError(422, "invalid_archive", "The form holds no file.")
    if request.content_type not in (
        "application/zip",
        "application/x-zip-compressed",
        "application/octet-stream",
    ):
        raise ApiError(
            415,
            "unsupported_media_type",
            "Send the zip as application/zip, or as a file of multipart/form-data.",
        )
    return await _read_limited(request.content, limit)


def refusal(exc: BadArchive) -> ApiError:
    where = f"{exc.entry}: " if exc.entry else ""
    details = {"entry": exc.entry} if exc.entry else None
    if exc.too_large:
        return ApiError(413, "payload_too_large", f"The archive is refused: {where}{exc}.", details)
    return ApiError(422, "invalid_archive", f"The archive is refused: {where}{exc}.", details)


@routes.post("/api/sessions/{session_id}/import")
@documented(
    Operation(
        "Import a zip into the session's files (editors and owners)",
        "Sessions",
        answer=IMPORTED,
        errors=(413, 415, 422),
        description=(
            "The body is the zip (`application/zip`), or a `multipart/form-data` form whose "
            "first file is. The whole archive is checked before anything is written: "
            "absolute paths, '..', symlinks, encrypted entries, duplicate or invalid paths, "
            "non-UTF-8 files are refused (422 `invalid_archive`), too large, too many files "
            "or a zip bomb too (413 `payload_too_large`); `details.entry` names the entry. "
            "Each file replaces the text of the file with its path (a CRDT update); other "
            "files stay."
        ),
    )
)
async def import_archive(request: web.Request) -> web.Response:
    who = await actor(request)
    session_id = path_uuid(request, "session_id", "session")
    await request.app[SESSIONS].authorize(who, session_id, SessionRole.EDITOR)
    scope = await request.app[SESSIONS].document_key(session_id)
    service = archives(request.app)
    data = await _upload(request, request.app[SETTINGS].import_max_bytes)
    try:
        files = await service.read(data)
        answer = await service.write(scope, files, who.user_id)
    except BadArchive as exc:
        raise refusal(exc) from None
    await audit_bulk_write(request, who, "files.imported", scope, written_counts(answer))
    return web.json_response(answer)
