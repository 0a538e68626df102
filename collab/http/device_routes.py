"""`/api/auth/sessions`: a person's logins (devices), and ending one of them.

`current` marks the login the calling access token belongs to. Ending a login refuses its
tokens at once and closes its sockets, on every process (`auth.devices`).
"""

from __future__ import annotations

from aiohttp import web

from auth.devices import Devices
from collab.http.authn import client, current_user
from collab.http.params import path_uuid

DEVICES = web.AppKey("devices", Devices)

routes = web.RouteTableDef()


@routes.get("/api/auth/sessions")
async def list_logins(request: web.Request) -> web.Response:
    caller = await current_user(request)
    return web.json_response(await request.app[DEVICES].logins_of(caller))


@routes.delete("/api/auth/sessions/{login_id}")
async def end_login(request: web.Request) -> web.Response:
    caller = await current_user(request)
    login_id = path_uuid(request, "login_id", "login")
    await request.app[DEVICES].end(caller, login_id, client(request))
    return web.Response(status=204)
