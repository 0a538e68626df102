"""`POST /api/workspaces/{ws_id}/git/pull` and `POST .../git/push {message}` (editors and
above): the workspace document's `git.remote_url` and `branch` (default `main`).

Credentials: the workspace environment's variable `GIT_TOKEN` (mark it secret), sent as the
HTTP basic password; `GIT_USERNAME` (default `x-access-token`) as the user name. See
docs/import-export-git.md.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from yarl import URL

from auth.roles import Role
from auth.users import UserStore
from collab.archive import git_heads
from collab.archive.git import Git, GitFailed, PushRejected, Remote, RemoteRefused, check_remote
from collab.archive.zips import BadArchive
from collab.http.apidoc.model import Operation, documented
from collab.http.archive_routes import archives, audit_bulk_write, refusal, written_counts
from collab.http.authn import actor
from collab.http.errors import ApiError, read_json
from collab.http.params import path_uuid
from collab.model import DocumentKey
from collab.state import (
    DB_POOL,
    SETTINGS,
    SIGNING_KEYS,
    WORKSPACE_ACCESS,
    WORKSPACE_DOCUMENTS,
    WORKSPACES,
)
from collab.workspace_documents.parts import SecretBox
from kernel.context import Actor
from kernel.errors import Conflict, ValidationFailed
from kernel.validation import Input, Text, parse

routes = web.RouteTableDef()

DEFAULT_BRANCH = "main"
DEFAULT_USERNAME = "x-access-token"

PULLED = {
    "type": "object",
    "properties": {
        "commit": {"type": "string"},
        "created": {"type": "array", "items": {"type": "string"}},
        "updated": {"type": "array", "items": {"type": "string"}},
        "unchanged": {"type": "array", "items": {"type": "string"}},
        "skipped": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["commit", "created", "updated", "unchanged", "skipped"],
}
PUSHED = {
    "type": "object",
    "properties": {"pushed": {"type": "boolean"}, "commit": {"type": ["string", "null"]}},
    "required": ["pushed", "commit"],
}


class PushInput(Input):
    message: Text(10_000, min_length=1)  # type: ignore[valid-type]


async def _remote(request: web.Request, who: Actor, ws_id: uuid.UUID) -> Remote:
    app = request.app
    await app[WORKSPACES].require(app[DB_POOL], who, ws_id, Role.EDITOR)
    await app[WORKSPACE_ACCESS].check_mfa(ws_id, who.user_id)
    document = await app[WORKSPACE_DOCUMENTS].store.get(ws_id) or {}
    git = document.get("git") or {}
    url = git.get("remote_url")
    if not url:
        raise ValidationFailed(
            {"git.remote_url": "set the workspace document's git remote first"},
            "The workspace has no git remote.",
        )
    try:
        await check_remote(url, app[SETTINGS].git_allowed_hosts)
    except RemoteRefused as exc:
        raise ValidationFailed({"git.remote_url": str(exc)}, str(exc)) from None
    variables = {v["name"]: v for v in (document.get("environment") or {}).get("variables", [])}
    box = SecretBox(app[SIGNING_KEYS])

    def value(name: str) -> str | None:
        variable = variables.get(name)
        if variable is None:
            return None
        return box.open(variable["sealed"]) if variable.get("secret") else variable.get("value")

    return Remote(
        url, git.get("branch") or DEFAULT_BRANCH, value("GIT_USERNAME") or DEFAULT_USERNAME,
        value("GIT_TOKEN"),
    )  # fmt: skip


def _git(app: web.Application) -> Git:
    settings = app[SETTINGS]
    return Git(settings.git_timeout_seconds, settings.git_ca_file)


def _without_credentials(url: str) -> str:
    """The remote as the audit log may keep it: a user:password@ part, a query and a
    fragment (where a token could ride, `?private_token=...`) are dropped."""
    try:
        return str(URL(url).with_user(None).with_query(None).with_fragment(None))
    except ValueError:
        return "(unparsable)"


def _failed(exc: GitFailed) -> ApiError:
    return ApiError(502, "git_failed", str(exc))


@routes.post("/api/workspaces/{ws_id}/git/pull")
@documented(
    Operation(
        "Pull the workspace's git branch into its files (editors and above)",
        "Workspaces",
        answer=PULLED,
        errors=(413, 502),
        description=(
            "Each UTF-8 text file of the branch replaces the text of the file with its path "
            "(a CRDT update: live editors see it); files the branch lacks stay. Binary "
            "files, symlinks and submodules are listed in `skipped`. 422 when no remote is "
            "set or it is refused (https only; no private addresses); 502 `git_failed` "
            "with git's message."
        ),
    )
)
async def pull(request: web.Request) -> web.Response:
    who = await actor(request)
    ws_id = path_uuid(request, "ws_id", "workspace")
    remote = await _remote(request, who, ws_id)
    service = archives(request.app)
    try:
        tree = await _git(request.app).pull(remote, service.limits)
        scope = DocumentKey(ws_id, "", in_workspace=True)
        written = await service.write(scope, tree.files, who.user_id)
    except BadArchive as exc:
        raise refusal(exc) from None
    except GitFailed as exc:
        raise _failed(exc) from None
    await git_heads.record(request.app[DB_POOL], ws_id, remote.url, remote.branch, tree.commit)
    shown = {"remote_url": _without_credentials(remote.url), "branch": remote.branch}
    await audit_bulk_write(
        request, who, "git.pulled", scope,
        {**shown, "commit": tree.commit, **written_counts(written)},
    )  # fmt: skip
    answer: dict[str, Any] = {"commit": tree.commit, **written, "skipped": tree.skipped}
    return web.json_response(answer)


@routes.post("/api/workspaces/{ws_id}/git/push")
@documented(
    Operation(
        "Commit the workspace's files and push them (editors and above)",
        "Workspaces",
        body=PushInput,
        answer=PUSHED,
        errors=(413, 502),
        description=(
            "Commits the current text of every file on top of the branch (created when "
            "missing) and pushes it: `{pushed: false}` when the branch already holds them. "
            "Text files of the branch the workspace lacks are deleted; binary files, "
            "symlinks and submodules are kept. 409 when the branch moved on (pull first)."
        ),
    )
)
async def push(request: web.Request) -> web.Response:
    who = await actor(request)
    ws_id = path_uuid(request, "ws_id", "workspace")
    body = parse(PushInput, await read_json(request))
    remote = await _remote(request, who, ws_id)
    service = archives(request.app)
    user = await UserStore().by_id(request.app[DB_POOL], who.user_id)
    author = (user.username, user.email) if user else ("collab", "collab@localhost")
    files = await service.texts(DocumentKey(ws_id, "", in_workspace=True))
    try:
        base = await git_heads.base(request.app[DB_POOL], ws_id, remote.url, remote.branch)
        commit, head = await _git(request.app).push(
            remote, files, body.message, author, service.limits, base
        )
    except BadArchive as exc:
        raise refusal(exc) from None
    except PushRejected:
        raise Conflict(
            "The branch has commits this workspace has not pulled: pull first, then push."
        ) from None
    except GitFailed as exc:
        raise _failed(exc) from None
    if head is not None:
        await git_heads.record(request.app[DB_POOL], ws_id, remote.url, remote.branch, head)
    if commit is not None:
        shown = {"remote_url": _without_credentials(remote.url), "branch": remote.branch}
        await audit_bulk_write(
            request, who, "git.pushed", DocumentKey(ws_id, "", in_workspace=True),
            {**shown, "commit": commit, "files": len(files)},
        )  # fmt: skip
    return web.json_response({"pushed": commit is not None, "commit": commit})
