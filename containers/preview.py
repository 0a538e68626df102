"""`/preview/{deployment_id}/...`: a reverse proxy to a running deployment.

Bodies stream both ways, WebSocket upgrades are relayed frame by frame, and the app sees
the headers a proxied app expects (`X-Forwarded-For/-Proto/-Host`, `X-Forwarded-Prefix`;
redirects to its own root are rewritten under the prefix). Public previews are open;
private ones need a participant of the session: a first visit with `?token=<access token>`
sets a cookie scoped to that preview's path and redirects to the same URL without the
token, so a browser then browses freely. Each viewer is recorded in
`deployment_participants`, and traffic keeps the deployment from being reaped as idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import aiohttp
import asyncpg
import jwt
from aiohttp import web

from auth.errors import AuthError, NotFound, Unauthenticated, Unavailable
from auth.keys import SigningKeys
from auth.users import User

COOKIE = "collab_preview"
COOKIE_TTL = 12 * 3600
# The proxied request path reads the deployment and records activity; both are cached or
# throttled so a page of many assets costs no database round trip per request.
ROW_TTL = 1.0
ACTIVITY_EVERY = 5.0
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}

Authenticate = Callable[[str], Awaitable[User]]
IsParticipant = Callable[[uuid.UUID, uuid.UUID], Awaitable[bool]]


class PreviewProxy:
    def __init__(
        self,
        pool: asyncpg.Pool,
        keys: SigningKeys,
        authenticate: Authenticate,
        is_participant: IsParticipant,
    ) -> None:
        self._pool = pool
        self._key = keys.derive("preview-cookie")
        self._authenticate = authenticate
        self._is_participant = is_participant
        self._http = aiohttp.ClientSession(
            auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None, connect=5)
        )
        self._rows: dict[uuid.UUID, tuple[float, asyncpg.Record | None]] = {}
        self._recorded: dict[tuple[uuid.UUID, uuid.UUID | None], float] = {}

    async def _deployment(self, deployment_id: uuid.UUID) -> asyncpg.Record | None:
        now = time.monotonic()
        cached = self._rows.get(deployment_id)
        if cached is not None and now - cached[0] < ROW_TTL:
            return cached[1]
        row = await self._pool.fetchrow(
            "SELECT * FROM deployments WHERE deployment_id = $1", deployment_id
        )
        if len(self._rows) > 10_000:
            self._rows.clear()
        if row is not None and row["status"] == "running":
            # Only a running deployment is cached: a starting one must be seen running at once.
            self._rows[deployment_id] = (now, row)
        return row

    async def close(self) -> None:
        await self._http.close()

    # -- who may look ---------------------------------------------------------------------------

    def _cookie_value(self, user_id: uuid.UUID, deployment_id: uuid.UUID) -> str:
        now = int(time.time())
        return jwt.encode(
            {
                "sub": str(user_id),
                "did": str(deployment_id),
                "iat": now,
                "exp": now + COOKIE_TTL,
                "aud": "collab-preview",
            },
            self._key,
            "HS256",
        )

    def _cookie_user(self, request: web.Request, deployment_id: uuid.UUID) -> uuid.UUID | None:
        value = request.cookies.get(COOKIE)
        if not value:
            return None
        try:
            claims = jwt.decode(value, self._key, algorithms=["HS256"], audience="collab-preview")
            if claims["did"] != str(deployment_id):
                return None
            return uuid.UUID(claims["sub"])
        except (jwt.InvalidTokenError, KeyError, ValueError):
            return None

    async def _viewer(self, request: web.Request, row: asyncpg.Record) -> uuid.UUID | None:
        """The participant looking, None for an anonymous look at a public preview."""
        did = row["deployment_id"]
        user_id = self._cookie_user(request, did)
        if user_id is None:
            token = (
                request.query.get("token")
                or request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            )
            if token:
                try:
                    user_id = (await self._authenticate(token)).user_id
                except AuthError:
                    user_id = None
        if user_id is not None and not await self._is_participant(row["session_id"], user_id):
            user_id = None
        if user_id is None and not row["public"]:
            raise Unauthenticated("This preview is private: open it with ?token=<access token>.")
        return user_id

    async def _record(self, row: asyncpg.Record, user_id: uuid.UUID | None) -> None:
        now = time.monotonic()
        key = (row["deployment_id"], user_id)
        if now - self._recorded.get(key, 0.0) < ACTIVITY_EVERY:
            return
        if len(self._recorded) > 10_000:
            self._recorded.clear()
        self._recorded[key] = now
        await self._pool.execute(
            "UPDATE deployments SET last_active = now() WHERE deployment_id = $1",
            row["deployment_id"],
        )
        if user_id is not None:
            await self._pool.execute(
                """INSERT INTO deployment_participants (deployment_id, user_id, email, role)
                   SELECT $1, $2, u.email, coalesce(p.role, 'viewer') FROM users u
                   LEFT JOIN session_participants p ON p.user_id = u.user_id
                        AND p.session_id = $3
                   WHERE u.user_id = $2
                   ON CONFLICT (deployment_id, user_id)
                   DO UPDATE SET last_active = now(), is_active = true""",
                row["deployment_id"],
                user_id,
                row["session_id"],
            )

    # -- the proxy ------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            deployment_id = uuid.UUID(request.match_info["deployment_id"])
        except ValueError:
            raise NotFound("No such deployment.") from None
        row = await self._pool.fetchrow(
            "SELECT * FROM deployments WHERE deployment_id = $1", deployment_id
        )
        if row is None:
            raise NotFound("No such deployment.")
        user_id = await self._viewer(request, row)
        if row["status"] != "running":
            raise Unavailable(f"The deployment is {row['status']}.")
        if "token" in request.query and user_id is not None:
            # Trade the token for a cookie scoped to this preview, and drop it from the URL.
            rest = {k: v for k, v in request.query.items() if k != "token"}
            target = request.path + (f"?{urlencode(rest)}" if rest else "")
            response = web.HTTPFound(target)
            response.set_cookie(
                COOKIE,
                self._cookie_value(user_id, deployment_id),
                path=f"/preview/{deployment_id}/",
                max_age=COOKIE_TTL,
                httponly=True,
                samesite="Lax",
                secure=request.secure,
            )
            raise response
        await self._record(row, user_id)
        prefix = f"/preview/{deployment_id}"
        upstream = f"http://127.0.0.1:{row['port']}/{request.match_info['tail']}"
        if request.query_string:
            upstream += f"?{request.query_string}"
        headers = self._upstream_headers(request, prefix)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request, upstream, headers)
        return await self._http_request(request, upstream, headers, prefix)

    def _upstream_headers(self, request: web.Request, prefix: str) -> dict[str, str]:
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in HOP_BY_HOP
            and not k.lower().startswith("sec-websocket")
            and k.lower() != "cookie"
        }
        cookies = SimpleCookie()
        cookies.load(request.headers.get("Cookie", ""))
        kept = "; ".join(f"{k}={m.value}" for k, m in cookies.items() if k != COOKIE)
        if kept:
            headers["Cookie"] = kept
        headers.pop("Authorization", None)  # our credentials are not the app's
        forwarded_for = request.headers.get("X-Forwarded-For")
        peer = request.remote or ""
        headers["X-Forwarded-For"] = f"{forwarded_for}, {peer}" if forwarded_for else peer
        headers["X-Forwarded-Proto"] = request.scheme
        headers["X-Forwarded-Host"] = request.host
        headers["X-Forwarded-Prefix"] = prefix
        return headers

    async def _http_request(
        self, request: web.Request, upstream: str, headers: dict[str, str], prefix: str
    ) -> web.StreamResponse:
        body = request.content.iter_any() if request.can_read_body else None
        try:
            async with self._http.request(
                request.method, upstream, headers=headers, data=body, allow_redirects=False
            ) as answer:
                response = web.StreamResponse(status=answer.status, reason=answer.reason)
                for name, value in answer.headers.items():
                    if name.lower() in HOP_BY_HOP:
                        continue
                    if name.lower() == "location" and value.startswith("/"):
                        value = prefix + value
                    response.headers.add(name, value)
                await response.prepare(request)
                async for chunk in answer.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
                return response
        except aiohttp.ClientError as exc:
            raise Unavailable(f"The app did not answer: {exc}") from None

    async def _websocket(
        self, request: web.Request, upstream: str, headers: dict[str, str]
    ) -> web.StreamResponse:
        protocols = [
            p.strip()
            for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if p.strip()
        ]
        try:
            app_ws = await self._http.ws_connect(
                upstream.replace("http://", "ws://", 1), headers=headers, protocols=protocols
            )
        except (aiohttp.ClientError, aiohttp.WSServerHandshakeError) as exc:
            raise Unavailable(f"The app refused the WebSocket: {exc}") from None
        client_ws = web.WebSocketResponse(protocols=[app_ws.protocol] if app_ws.protocol else ())
        await client_ws.prepare(request)

        async def pump(
            source: aiohttp.ClientWebSocketResponse | web.WebSocketResponse,
            sink: aiohttp.ClientWebSocketResponse | web.WebSocketResponse,
        ) -> None:
            async for message in source:
                if message.type == aiohttp.WSMsgType.TEXT:
                    await sink.send_str(message.data)
                elif message.type == aiohttp.WSMsgType.BINARY:
                    await sink.send_bytes(message.data)
                else:
                    break
            await sink.close()

        tasks = [
            asyncio.ensure_future(pump(client_ws, app_ws)),
            asyncio.ensure_future(pump(app_ws, client_ws)),
        ]
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await app_ws.close()
        return client_ws
