"""`/api/auth/me/export` and `DELETE /api/auth/me`: a person's data and their account's end."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field

from auth.account_inputs import Password
from collab.http.authn import client, current_user
from collab.http.errors import read_json
from collab.lifecycle_wiring import LIFECYCLE
from kernel.validation import Input, parse

routes = web.RouteTableDef()


class DeleteAccountInput(Input):
    # The same rule as everywhere a password is typed: a long one registration took works.
    password: Annotated[Password, Field(min_length=1)]
    code: Annotated[str, Field(max_length=64)] | None = None


@routes.get("/api/auth/me/export")
async def export(request: web.Request) -> web.Response:
    user = await current_user(request)
    archive = await request.app[LIFECYCLE].export(user, client(request))
    name = f"collab-export-{user.username}.json"
    return web.json_response(
        archive,
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


@routes.delete("/api/auth/me")
async def delete_account(request: web.Request) -> web.Response:
    user = await current_user(request)
    data = parse(DeleteAccountInput, await read_json(request))
    answer = await request.app[LIFECYCLE].delete(user, data.password, data.code, client(request))
    return web.json_response(answer, status=202)
