"""Who is calling: the bearer token's user, and the client's address for audit/limits."""

from __future__ import annotations

from aiohttp import web

from auth.users import User
from collab.http.client_info import client_info
from collab.state import ACCOUNTS, SETTINGS
from kernel.context import Actor, ClientInfo
from kernel.errors import Unauthenticated

_USER = web.RequestKey("user", User)


def bearer_token(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send Authorization: Bearer <access_token>.")
    return token.strip()


async def current_user(request: web.Request) -> User:
    if _USER in request:
        return request[_USER]
    user = await request.app[ACCOUNTS].authenticate(bearer_token(request))
    request[_USER] = user
    return user


def client(request: web.Request) -> ClientInfo:
    return client_info(request, request.app[SETTINGS].trusted_proxies)


async def actor(request: web.Request) -> Actor:
    return Actor((await current_user(request)).user_id, client(request))
