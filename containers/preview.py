"""A reverse proxy to a running deployment, on the preview's own origin.

A preview is served at the root of `{deployment_id}.{preview domain}` (`preview_hosts`
routes those hosts here), so the app's scripts never run on the IDE's origin. Behind
COLLAB_PREVIEW_PATHS it is also served under `/preview/{deployment_id}/` on the app's
origin: unsafe for untrusted code, kept for setups without wildcard DNS.

Bodies stream both ways, WebSocket upgrades are relayed frame by frame, and the app sees
the headers a proxied app expects (`X-Forwarded-For/-Proto/-Host`, and
`X-Forwarded-Prefix` under a path; its redirects are rewritten under the prefix). Public
previews are open; private ones need a participant of the session: a first visit with
`?token=<access token>` sets an HttpOnly, SameSite=Lax cookie for that preview alone (its
own host, or its path under the app's origin) and redirects to the same URL without the
token, so a browser then browses freely. Each viewer is recorded in
`deployment_participants`, and traffic keeps the deployment from being reaped as idle.

The app is not trusted with anything of the server's: `proxy_headers` says what crosses.
A preview cookie is honoured only while its user is active, has not ended every session
since (the same token generation as access tokens), and still has access to the session:
a yes is kept for at most `VERDICT_TTL` seconds and dropped at once when the control
channel says it changed (`preview_access`), and an open WebSocket is re-checked every
`RECHECK_EVERY` seconds. Looking is a read: it never makes anyone a session participant.
When the app fails, the visitor gets a fixed 502 and the reason goes to the log.

A running deployment's row is kept for `ROW_TTL` seconds and activity is recorded at most
every `ACTIVITY_EVERY` seconds, so a page of many assets from a known viewer costs no
database round trip per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import asyncpg
import jwt
from aiohttp import web
from multidict import CIMultiDict
from redis.asyncio import Redis
from yarl import URL

from auth.keys import SigningKeys
from auth.users import User, UserStore
from containers.preview_access import VerdictFeed, Verdicts, Viewer
from containers.proxy_headers import (
    ORIGIN_WIDE,
    TOKEN_PARAM,
    address,
    bearer_credential,
    cookie_without_server_cookies,
    end_to_end,
    is_server_bearer,
    location_in_preview,
    query_without_token,
    sets_server_cookie,
    url_without_token,
)
from containers.store import DeploymentStore, Status
from kernel.errors import BadGateway, NotFound, ServiceError, Unauthenticated, Unavailable

log = logging.getLogger(__name__)

COOKIE = "collab_preview"
COOKIE_TTL = 12 * 3600
# The proxied request path reads the deployment and records activity; both are cached or
# throttled so a page of many assets costs no database round trip per request.
ROW_TTL = 1.0
ACTIVITY_EVERY = 5.0
# How long an open WebSocket outlives its viewer's access (removal, logout-all, ...).
RECHECK_EVERY = 5.0
# Ours to set towards the app (or, for `sec-websocket-*`, the WebSocket client's).
REQUEST_REPLACED = frozenset(
    {
        "host",
        "content-length",
        "cookie",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-forwarded-prefix",
    }
)
UPSTREAM_FAILED = (aiohttp.ClientError, asyncio.TimeoutError, OSError)

Authenticate = Callable[[str], Awaitable[User]]
# "Has this user access to that session?": a read, it must not make them a participant.
IsParticipant = Callable[[uuid.UUID, uuid.UUID], Awaitable[bool]]


@dataclass(frozen=True)
class _Route:
    """Where a preview is served on the origin it was asked on: under `/preview/{id}` on the
    app's (path previews), at the root ("") on its own; and the path the app is asked for
    (as the visitor sent it, still percent-encoded, below the prefix)."""

    deployment_id: uuid.UUID
    prefix: str
    app_path: str

    def __str__(self) -> str:
        return str(self.deployment_id)


class _AppFailed(BadGateway):
    """The app did not answer (rather than answering something the proxy refuses)."""


def _reason(exc: BaseException) -> str:
    """Why the app failed, for the log: not the request's headers (they carry cookies)."""
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{type(exc).__name__}: {exc.status} {exc.message}"
    return repr(exc)


class PreviewProxy:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: DeploymentStore,
        keys: SigningKeys,
        authenticate: Authenticate,
        is_participant: IsParticipant,
        redis: Redis | None = None,
    ) -> None:
        """Without `redis` (no control channel to hear changes on), no verdict is kept."""
        self._pool = pool
        self._store = store
        self._keys = keys
        self._key = keys.derive("preview-cookie")
        self._authenticate = authenticate
        self._is_participant = is_participant
        self._users = UserStore()
        self._http = aiohttp.ClientSession(
            auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None, connect=5)
        )
        self._rows: dict[uuid.UUID, tuple[float, asyncpg.Record | None]] = {}
        self._recorded: dict[tuple[uuid.UUID, uuid.UUID | None], float] = {}
        self._verdicts = Verdicts()
        self._feed = (
            VerdictFeed(redis, self._verdicts, self._forget_row) if redis is not None else None
        )

    async def start(self) -> None:
        if self._feed is not None:
            await self._feed.start()

    async def _deployment(self, deployment_id: uuid.UUID) -> asyncpg.Record | None:
        now = time.monotonic()
        cached = self._rows.get(deployment_id)
        if cached is not None and now - cached[0] < ROW_TTL:
            return cached[1]
        row = await self._store.get(self._pool, deployment_id)
        if len(self._rows) > 10_000:
            self._rows.clear()
        if row is not None and row["status"] == Status.RUNNING:
            # Only a running deployment is cached: a starting one must be seen running at once.
            self._rows[deployment_id] = (now, row)
        return row

    def _forget_row(self, deployment_id: uuid.UUID) -> None:
        """Its status changed (a `deployment:status` event, from any process)."""
        self._rows.pop(deployment_id, None)

    async def _gone(self, deployment_id: uuid.UUID) -> ServiceError | None:
        """After the app failed: whether that is because the deployment stopped meanwhile
        (its row may have been kept while it was running)."""
        self._forget_row(deployment_id)
        row = await self._store.get(self._pool, deployment_id)
        if row is None:
            return NotFound("No such deployment.")
        if row["status"] != Status.RUNNING:
            return Unavailable(f"The deployment is {row['status']}.")
        return None

    async def close(self) -> None:
        if self._feed is not None:
            await self._feed.stop()
        await self._http.close()

    # -- who may look ---------------------------------------------------------------------------

    def _cookie_value(self, viewer: Viewer, deployment_id: uuid.UUID) -> str:
        now = int(time.time())
        return jwt.encode(
            {
                "sub": str(viewer.user_id),
                "did": str(deployment_id),
                "gen": viewer.generation,
                "iat": now,
                "exp": now + COOKIE_TTL,
                "aud": "collab-preview",
            },
            self._key,
            "HS256",
        )

    def _cookie_viewer(self, request: web.Request, deployment_id: uuid.UUID) -> Viewer | None:
        value = request.cookies.get(COOKIE)
        if not value:
            return None
        try:
            claims = jwt.decode(value, self._key, algorithms=["HS256"], audience="collab-preview")
            if claims["did"] != str(deployment_id) or type(claims["gen"]) is not int:
                return None
            return Viewer(uuid.UUID(claims["sub"]), claims["gen"])
        except (jwt.InvalidTokenError, KeyError, ValueError, TypeError):
            return None

    async def _still_stands(self, session_id: uuid.UUID, viewer: Viewer) -> bool:
        """Whether a viewer's credential still stands, asked of the database: the account is
        active, has not ended every session since (logout-all, password reset, deactivation
        move the token generation, exactly as for access tokens), and has access."""
        user = await self._users.by_id(self._pool, viewer.user_id)
        if user is None or not user.is_active or user.token_generation != viewer.generation:
            return False
        return await self._is_participant(session_id, viewer.user_id)

    async def _honoured(self, session_id: uuid.UUID, viewer: Viewer) -> bool:
        """`_still_stands`, answered from a recent yes when there is one."""
        if self._feed is not None and await self._feed.still_stands(session_id, viewer):
            return True
        epoch = self._verdicts.epoch
        if not await self._still_stands(session_id, viewer):
            return False
        self._verdicts.grant(session_id, viewer, epoch)
        return True

    async def _viewer(self, request: web.Request, row: asyncpg.Record) -> Viewer | None:
        """The participant looking, None for an anonymous look at a public preview."""
        viewer = self._cookie_viewer(request, row["deployment_id"])
        if viewer is not None and not await self._honoured(row["session_id"], viewer):
            viewer = None
        if viewer is None:
            token = request.query.get(TOKEN_PARAM) or bearer_credential(
                request.headers.get("Authorization", "")
            )
            if token:
                try:
                    user = await self._authenticate(token)
                except ServiceError:
                    user = None
                if user is not None:
                    viewer = Viewer(user.user_id, user.token_generation)
                    if not await self._honoured(row["session_id"], viewer):
                        viewer = None
        if viewer is None and not row["public"]:
            raise Unauthenticated("This preview is private: open it with ?token=<access token>.")
        return viewer

    async def _record(self, row: asyncpg.Record, user_id: uuid.UUID | None) -> None:
        now = time.monotonic()
        key = (row["deployment_id"], user_id)
        if now - self._recorded.get(key, 0.0) < ACTIVITY_EVERY:
            return
        if len(self._recorded) > 10_000:
            self._recorded.clear()
        self._recorded[key] = now
        await self._store.touch(self._pool, row["deployment_id"])
        if user_id is not None:
            await self._store.record_viewer(
                self._pool, row["deployment_id"], user_id, row["session_id"]
            )

    # -- the proxy ------------------------------------------------------------------------------

    async def handle_host(
        self, request: web.Request, deployment_id: uuid.UUID
    ) -> web.StreamResponse:
        """A request on the preview's own origin (`preview_hosts`): its path is the app's."""
        return await self._serve(request, _Route(deployment_id, "", request.rel_url.raw_path))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """`/preview/{deployment_id}/{tail}` on the app's origin (COLLAB_PREVIEW_PATHS)."""
        try:
            deployment_id = uuid.UUID(request.match_info["deployment_id"])
        except ValueError:
            raise NotFound("No such deployment.") from None
        # The path as the visitor sent it (still percent-encoded), below the prefix.
        app_path = "/" + request.rel_url.raw_path.split("/", 3)[3]
        route = _Route(deployment_id, f"/preview/{deployment_id}", app_path)
        return await self._serve(request, route)

    async def _serve(self, request: web.Request, route: _Route) -> web.StreamResponse:
        deployment_id = route.deployment_id
        row = await self._deployment(deployment_id)
        if row is None:
            raise NotFound("No such deployment.")
        viewer = await self._viewer(request, row)
        if row["status"] != Status.RUNNING:
            raise Unavailable(f"The deployment is {row['status']}.")
        websocket = request.headers.get("Upgrade", "").lower() == "websocket"
        query = query_without_token(request.rel_url.raw_query_string)
        if TOKEN_PARAM in request.query and request.method in ("GET", "HEAD") and not websocket:
            # A page must never be shown with the token in its URL (the app would read it,
            # and the browser would send it on as a Referer): drop it from the URL, and
            # trade it for a cookie scoped to this preview when it names a participant.
            path = request.rel_url.raw_path
            if path.startswith(("//", "/\\")):
                # A browser reads `//host/...` (and `/\host`) as another origin; `/.//host/...`
                # is this one's path `//host/...`, as asked.
                path = "/." + path
            response = web.HTTPFound(path + (f"?{query}" if query else ""))
            if viewer is not None:
                response.set_cookie(
                    COOKIE,
                    self._cookie_value(viewer, deployment_id),
                    path=f"{route.prefix}/",
                    max_age=COOKIE_TTL,
                    httponly=True,
                    samesite="Lax",
                    secure=request.secure,
                )
            raise response
        await self._record(row, viewer.user_id if viewer else None)
        app_path = route.app_path
        if not row["address"]:
            raise Unavailable("The deployment has no address yet.")
        # The container on its own network, at its address there: no host port is published.
        upstream = URL.build(
            scheme="http",
            host=row["address"],
            port=row["port"],
            path=app_path,
            query_string=query,
            encoded=True,
        )
        headers = self._upstream_headers(request, route)
        own = {
            (row["address"], row["port"]),
            ("127.0.0.1", row["port"]),
            ("localhost", row["port"]),
        }
        public = address(request.scheme, request.host)
        if public is not None:
            own.add(public)
        try:
            if websocket:
                return await self._websocket(request, upstream, headers, route, row, viewer)
            return await self._http_request(request, upstream, headers, route, app_path, own)
        except _AppFailed:
            gone = await self._gone(deployment_id)
            if gone is not None:
                raise gone from None
            raise

    def _upstream_headers(self, request: web.Request, route: _Route) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict()
        for name, value in end_to_end(request.headers.items(), REQUEST_REPLACED):
            lowered = name.lower()
            if lowered.startswith("sec-websocket-"):
                continue
            if lowered == "authorization" and is_server_bearer(value, self._is_our_key):
                continue  # ours; an app's own Authorization passes
            if lowered == "referer":
                value = url_without_token(value)
            headers.add(name, value)
        cookie = cookie_without_server_cookies(request.headers.getall("Cookie", []))
        if cookie:
            headers["Cookie"] = cookie
        forwarded_for = request.headers.get("X-Forwarded-For")
        peer = request.remote or ""
        headers["X-Forwarded-For"] = f"{forwarded_for}, {peer}" if forwarded_for else peer
        headers["X-Forwarded-Proto"] = request.scheme
        headers["X-Forwarded-Host"] = request.host
        if route.prefix:
            headers["X-Forwarded-Prefix"] = route.prefix
        return headers

    def _is_our_key(self, kid: str) -> bool:
        return self._keys.for_kid(kid) is not None

    def _answer_headers(
        self,
        answer: aiohttp.ClientResponse,
        route: _Route,
        app_path: str,
        own: set[tuple[str, int]],
    ) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict()
        for name, value in end_to_end(answer.headers.items(), ORIGIN_WIDE | {"content-length"}):
            lowered = name.lower()
            if lowered == "set-cookie" and sets_server_cookie(value):
                log.warning("preview %s: refused the app's Set-Cookie for a server cookie", route)
                continue
            if lowered == "location":
                moved = location_in_preview(value, route.prefix, app_path, own)
                if moved is None:
                    log.warning("preview %s: the app redirected outside: %.200r", route, value)
                    if 300 <= answer.status < 400:
                        raise BadGateway("The app redirected outside its preview.")
                    continue
                value = moved
            headers.add(name, value)
        return headers

    async def _http_request(
        self,
        request: web.Request,
        upstream: URL,
        headers: CIMultiDict[str],
        route: _Route,
        app_path: str,
        own: set[tuple[str, int]],
    ) -> web.StreamResponse:
        body = request.content.iter_any() if request.can_read_body else None
        try:
            async with self._http.request(
                request.method, upstream, headers=headers, data=body, allow_redirects=False
            ) as answer:
                response = web.StreamResponse(
                    status=answer.status,
                    reason=answer.reason,
                    headers=self._answer_headers(answer, route, app_path, own),
                )
                await response.prepare(request)
                await self._relay_body(request, answer, response, route)
                return response
        except UPSTREAM_FAILED as exc:
            log.warning(
                "preview %s: the app did not answer %s %s: %s",
                route,
                request.method,
                app_path,
                _reason(exc),
            )
            raise _AppFailed("The app did not answer.") from None

    async def _relay_body(
        self,
        request: web.Request,
        answer: aiohttp.ClientResponse,
        response: web.StreamResponse,
        route: _Route,
    ) -> None:
        try:
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
        except UPSTREAM_FAILED as exc:
            # The status line is already out: cutting the connection is the only honest way
            # left to say the body is incomplete.
            log.warning("preview %s: the answer broke off: %s", route, _reason(exc))
            if request.transport is not None:
                request.transport.close()
            return
        await response.write_eof()

    async def _websocket(
        self,
        request: web.Request,
        upstream: URL,
        headers: CIMultiDict[str],
        route: _Route,
        row: asyncpg.Record,
        viewer: Viewer | None,
    ) -> web.StreamResponse:
        protocols = [
            p.strip()
            for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if p.strip()
        ]
        try:
            app_ws = await self._http.ws_connect(
                upstream.with_scheme("ws"), headers=headers, protocols=protocols
            )
        except UPSTREAM_FAILED as exc:
            log.warning("preview %s: the app refused a WebSocket: %s", route, _reason(exc))
            raise _AppFailed("The app did not accept the WebSocket.") from None
        client_ws = web.WebSocketResponse(protocols=[app_ws.protocol] if app_ws.protocol else ())
        await client_ws.prepare(request)

        async def pump(
            source: aiohttp.ClientWebSocketResponse | web.WebSocketResponse,
            sink: aiohttp.ClientWebSocketResponse | web.WebSocketResponse,
        ) -> None:
            async for message in source:
                # Messages are the preview's traffic too: a live app used only over its
                # WebSocket is not idle (recorded at most every ACTIVITY_EVERY seconds).
                with contextlib.suppress(asyncpg.PostgresError, OSError):
                    await self._record(row, viewer.user_id if viewer else None)
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
        if viewer is not None and not row["public"]:
            tasks.append(asyncio.ensure_future(self._watch(client_ws, row["session_id"], viewer)))
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await app_ws.close()
        return client_ws

    async def _watch(
        self, client_ws: web.WebSocketResponse, session_id: uuid.UUID, viewer: Viewer
    ) -> None:
        """Close a private preview's WebSocket once its viewer's access ends."""
        while True:
            await asyncio.sleep(RECHECK_EVERY)
            try:
                still = await self._still_stands(session_id, viewer)
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("preview WebSocket closed: its viewer could not be checked: %r", exc)
                still = False
            if not still:
                await client_ws.close(
                    code=aiohttp.WSCloseCode.POLICY_VIOLATION, message=b"access ended"
                )
                return
