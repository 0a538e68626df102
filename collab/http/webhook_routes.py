"""`/api/workspaces/{ws_id}/webhooks`: a workspace's webhook endpoints (owners and admins).

The signing secret is in the creation answer only (never cached); deliveries list each
attempt, newest first (`?limit&before`).
"""

from __future__ import annotations

from aiohttp import web

from auth.rate_limit import Limit, RateLimiter
from collab.http.authn import actor
from collab.http.errors import read_json
from collab.http.params import int_query, path_uuid
from collab.state import REDIS
from collab.webhooks.service import WebhookInput, WebhookPatch, WebhookService
from kernel.validation import parse

WEBHOOKS = web.AppKey("webhooks", WebhookService)

routes = web.RouteTableDef()

_BASE = "/api/workspaces/{ws_id}/webhooks"

# Each test is one more POST to a URL of the caller's choosing (and its rows): a budget per
# account keeps the server from being anyone's free request sender. A person checking their
# endpoint never meets it.
TEST_LIMIT = Limit(20, 60)
_TEST_LIMITS = {"webhook_test:account": TEST_LIMIT}


@routes.post(_BASE)
async def create_webhook(request: web.Request) -> web.Response:
    ws_id = path_uuid(request, "ws_id", "workspace")
    data = parse(WebhookInput, await read_json(request))
    created = await request.app[WEBHOOKS].create(await actor(request), ws_id, data)
    return web.json_response(created, status=201, headers={"Cache-Control": "no-store"})


@routes.get(_BASE)
async def list_webhooks(request: web.Request) -> web.Response:
    ws_id = path_uuid(request, "ws_id", "workspace")
    return web.json_response(await request.app[WEBHOOKS].list(await actor(request), ws_id))


@routes.get(_BASE + "/{webhook_id}")
async def get_webhook(request: web.Request) -> web.Response:
    ws_id = path_uuid(request, "ws_id", "workspace")
    webhook_id = path_uuid(request, "webhook_id", "webhook")
    return web.json_response(
        await request.app[WEBHOOKS].get(await actor(request), ws_id, webhook_id)
    )


@routes.patch(_BASE + "/{webhook_id}")
async def update_webhook(request: web.Request) -> web.Response:
    ws_id = path_uuid(request, "ws_id", "workspace")
    webhook_id = path_uuid(request, "webhook_id", "webhook")
    patch = parse(WebhookPatch, await read_json(request))
    updated = await request.app[WEBHOOKS].update(await actor(request), ws_id, webhook_id, patch)
    return web.json_response(updated)


@routes.delete(_BASE + "/{webhook_id}")
async def delete_webhook(request: web.Request) -> web.Response:
    ws_id = path_uuid(request, "ws_id", "workspace")
    webhook_id = path_uuid(request, "webhook_id", "webhook")
    await request.app[WEBHOOKS].delete(await actor(request), ws_id, webhook_id)
    return web.Response(status=204)


@routes.post(_BASE + "/{webhook_id}/test")
async def test_webhook(request: web.Request) -> web.Response:
    ws_id = path_uuid(request, "ws_id", "workspace")
    webhook_id = path_uuid(request, "webhook_id", "webhook")
    who = await actor(request)
    await RateLimiter(request.app[REDIS], _TEST_LIMITS).hit_account(
        "webhook_test", str(who.user_id)
    )
    queued = await request.app[WEBHOOKS].test(who, ws_id, webhook_id)
    return web.json_response(queued, status=202)


@routes.get(_BASE + "/{webhook_id}/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    ws_id = path_uuid(request, "ws_id", "workspace")
    webhook_id = path_uuid(request, "webhook_id", "webhook")
    limit = int_query(request, "limit", None, 1, 200) or 50
    before = int_query(request, "before", None, 1, 2**62)
    page = await request.app[WEBHOOKS].deliveries(
        await actor(request), ws_id, webhook_id, limit=limit, before=before
    )
    return web.json_response(page)
