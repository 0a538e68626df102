"""`/api/auth/api-keys`: a person's API keys. The key itself is answered once, at creation.

Only a real login may manage keys: an API key is refused on these routes
(`collab.http.authn.required_scope`).
"""

from __future__ import annotations

from aiohttp import web

from auth.api_keys import ApiKeys, KeyInput
from collab.http.authn import client, current_user
from collab.http.errors import read_json
from collab.http.params import path_uuid
from kernel.validation import parse

API_KEYS = web.AppKey("api_keys", ApiKeys)

routes = web.RouteTableDef()


@routes.post("/api/auth/api-keys")
async def create_key(request: web.Request) -> web.Response:
    caller = await current_user(request)
    data = parse(KeyInput, await read_json(request))
    created = await request.app[API_KEYS].create(caller, data, client(request))
    # The only time the key is shown: never cached anywhere.
    return web.json_response(created, status=201, headers={"Cache-Control": "no-store"})


@routes.get("/api/auth/api-keys")
async def list_keys(request: web.Request) -> web.Response:
    caller = await current_user(request)
    keys = await request.app[API_KEYS].keys_of(caller.user_id)
    return web.json_response([key.public() for key in keys])


@routes.delete("/api/auth/api-keys/{key_id}")
async def revoke_key(request: web.Request) -> web.Response:
    caller = await current_user(request)
    key_id = path_uuid(request, "key_id", "API key")
    await request.app[API_KEYS].revoke(caller, key_id, client(request))
    return web.Response(status=204)
