"""The composition root: the one place that builds pools and clients and wires them in.

Each long-lived resource is a `cleanup_ctx` generator, so start-up runs top to bottom and
shutdown runs in reverse: services stop before the pools they use, and embedded servers
stop last.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from redis.asyncio import Redis

from auth.account_changes import AccountChanges
from auth.accounts import AccountService, Dependencies, Links
from auth.api_keys import LIMITS as API_KEY_LIMITS
from auth.api_keys import ApiKeys
from auth.callers import Caller
from auth.devices import Devices
from auth.invitations import InvitationService
from auth.mail import Mailer, OutboxMailer, SmtpMailer
from auth.mfa import MfaDependencies, MfaService, totp_sealer
from auth.mfa_tokens import MfaTokens
from auth.oauth import OAuthService
from auth.oauth_providers import GitHub, Google, Provider
from auth.password_policy import PasswordPolicy
from auth.passwords import Argon2Cost, PasswordHashing
from auth.rate_limit import RateLimiter
from auth.refresh_tokens import RefreshTokens
from auth.revocation import SessionRevocation
from auth.tokens import AccessTokens
from auth.users import UserStore
from auth.workspace_store import WorkspaceStore
from auth.workspaces import WorkspaceAccess, WorkspaceService
from collab import db
from collab.documents.fanout import DocumentFanout
from collab.documents.rooms import DocumentRooms
from collab.documents.service import DocumentService
from collab.documents.store import DocumentStore
from collab.documents.version_store import VersionStore
from collab.documents.versions import DocumentVersions
from collab.embedded import EmbeddedPostgres, EmbeddedRedis
from collab.http import (
    account_change_routes,
    admin_routes,
    api_key_routes,
    apidoc_routes,
    archive_routes,
    audit_routes,
    auth_routes,
    cors,
    deployment_routes,
    device_routes,
    git_routes,
    health,
    lifecycle_routes,
    mfa_routes,
    security_headers,
    service_errors,
    session_routes,
    version_routes,
    webhook_routes,
    workspace_routes,
)
from collab.http.api_key_routes import API_KEYS
from collab.http.client_info import client_info
from collab.http.cors import cors_middleware
from collab.http.device_routes import DEVICES
from collab.http.errors import ERROR_TRANSLATORS, ErrorTranslators, error_middleware
from collab.http.metrics import METRICS_REFRESH, loopback_listener, metrics_middleware
from collab.http.metrics import routes as metrics_routes
from collab.http.security_headers import security_headers_middleware
from collab.http.version_routes import VERSIONS
from collab.http.webhook_routes import WEBHOOKS
from collab.lifecycle_wiring import account_lifecycle
from collab.log import request_id_middleware
from collab.metrics_wiring import watch_live
from collab.model import DocumentKey, SessionRole
from collab.realtime.broadcast import send_event
from collab.realtime.connection_guard import ConnectionGuard
from collab.realtime.presence import Presence
from collab.realtime.server import RealtimeServer, add_socketio_routes, socket_server
from collab.realtime.socketio_redis import RedisClientManager
from collab.realtime.sync import DocumentSync
from collab.realtime.terminal import TerminalEvents
from collab.sessions.events import SessionEvents
from collab.sessions.scopes import SessionScopes
from collab.sessions.service import SessionService
from collab.sessions.store import SessionStore
from collab.signing_keys import load_signing_keys
from collab.state import (
    ACCOUNT_CHANGES,
    ACCOUNTS,
    DB_POOL,
    DEPLOYMENTS,
    DOCKER,
    DOCUMENTS,
    ENDPOINTS,
    INVITATIONS,
    MAILER,
    MFA,
    OAUTH,
    PREVIEW,
    REALTIME,
    REDIS,
    SESSIONS,
    SETTINGS,
    SIGNING_KEYS,
    TASKS,
    WORKSPACE_ACCESS,
    WORKSPACE_DOCUMENTS,
    WORKSPACES,
    Endpoints,
)
from collab.webapp import routes as webapp_routes
from collab.webhook_wiring import MemberWebhooks, deployment_status, webhooks_context
from collab.webhook_wiring import files_changed as webhook_files_changed
from collab.workspace_documents.parts import SecretBox
from collab.workspace_documents.postgres import PostgresWorkspaceDocuments
from collab.workspace_documents.service import WorkspaceDocuments
from collab.workspace_documents.store import WorkspaceDocumentStore
from config import Settings
from config.runtimes import CATALOGUE, load_runtimes
from containers.dependencies import DependencyInstaller, Indexes
from containers.engine import DockerEngine, DockerUnavailable
from containers.engines import deployment_engine
from containers.environment import DeployEnvironment
from containers.environment import merge as merge_environment
from containers.lifecycle import Deployments, Limits
from containers.live_files import LiveFiles
from containers.logs import LogFollowers
from containers.preview import PreviewProxy
from containers.preview_hosts import preview_host_middleware
from containers.reaper import Reaper
from containers.store import DeploymentStore
from kernel.audit import AuditLog
from kernel.background import BackgroundTasks
from kernel.context import Actor, ClientInfo
from kernel.errors import Forbidden, InvalidToken, NotFound

log = logging.getLogger(__name__)


async def _infrastructure(app: web.Application) -> AsyncIterator[None]:
    """Configured PostgreSQL/Redis, or embedded ones under the data directory."""
    settings = app[SETTINGS]
    loop = asyncio.get_running_loop()
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    try:
        if settings.database_url is not None:
            database_url = settings.database_url.get_secret_value()
        else:
            postgres = EmbeddedPostgres(settings.data_dir)
            database_url = await loop.run_in_executor(None, postgres.start)
            started.append(postgres)
        if settings.redis_url is not None:
            redis_url = settings.redis_url.get_secret_value()
        else:
            redis = EmbeddedRedis(settings.data_dir)
            redis_url = await loop.run_in_executor(None, redis.start)
            started.append(redis)
        app[ENDPOINTS] = Endpoints(database_url, redis_url)
        yield
    finally:
        for service in reversed(started):
            await loop.run_in_executor(None, service.stop)


async def _postgres(app: web.Application) -> AsyncIterator[None]:
    pool = await db.create_pool(app[ENDPOINTS].database_url)
    try:
        if app[SETTINGS].auto_migrate:
            await db.migrate_up(pool)
        app[DB_POOL] = pool
        yield
    finally:
        await pool.close()


async def _redis(app: web.Application) -> AsyncIterator[None]:
    client: Redis = Redis.from_url(
        app[ENDPOINTS].redis_url,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=30,
    )
    app[REDIS] = client
    yield
    await client.aclose()


async def _docker(app: web.Application) -> AsyncIterator[None]:
    docker_host = app[SETTINGS].docker_host
    engine = DockerEngine(docker_host) if docker_host else None
    app[DOCKER] = engine
    yield
    if engine is not None:
        engine.close()


def _mailer(settings: Settings) -> Mailer:
    if settings.smtp_url is not None:
        return SmtpMailer(settings.smtp_url.get_secret_value(), settings.mail_from)
    return OutboxMailer(settings.data_dir / "outbox", settings.mail_from)


def _oauth_providers(settings: Settings) -> dict[str, Provider]:
    providers: dict[str, Provider] = {}
    if settings.github_client_id and settings.github_client_secret:
        providers["github"] = GitHub(
            settings.github_client_id,
            settings.github_client_secret.get_secret_value(),
            settings.github_url.rstrip("/"),
            settings.github_api_url.rstrip("/"),
        )
    if settings.google_client_id and settings.google_client_secret:
        providers["google"] = Google(
            settings.google_client_id,
            settings.google_client_secret.get_secret_value(),
            settings.google_issuer,
        )
    return providers


async def _accounts(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    hashing = PasswordHashing(
        Argon2Cost(
            settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
        )
    )
    tasks = BackgroundTasks()
    app[TASKS] = tasks
    audit, users, mailer = AuditLog(), UserStore(), _mailer(settings)
    revocation = SessionRevocation(app[REDIS])
    app[API_KEYS] = ApiKeys(
        app[DB_POOL], audit, RateLimiter(app[REDIS], API_KEY_LIMITS), revocation
    )
    security_page = f"{settings.links_base_url}/settings/security"
    # Ending logins needs no token lifetimes: a plain RefreshTokens revokes families.
    app[DEVICES] = Devices(
        app[DB_POOL], RefreshTokens(), audit, revocation, mailer, tasks, security_page
    )
    app[ACCOUNTS] = AccountService(
        Dependencies(
            pool=app[DB_POOL],
            users=users,
            hashing=hashing,
            access=AccessTokens(
                app[SIGNING_KEYS], settings.token_issuer, settings.access_token_ttl_seconds
            ),
            refresh=RefreshTokens(
                timedelta(days=settings.refresh_idle_days),
                timedelta(days=settings.refresh_absolute_days),
                timedelta(seconds=settings.refresh_grace_seconds),
            ),
            limiter=RateLimiter(app[REDIS]),
            audit=audit,
            mailer=mailer,
            tasks=tasks,
            revocation=revocation,
            links=Links(settings.links_base_url),
            password_policy=PasswordPolicy(settings.password_policy),
            mfa_tokens=MfaTokens(app[SIGNING_KEYS], settings.token_issuer, app[REDIS]),
            api_keys=app[API_KEYS],
            devices=app[DEVICES],
        )
    )
    app[MAILER] = mailer
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
    app[OAUTH] = OAuthService(
        app[DB_POOL],
        _oauth_providers(settings),
        app[ACCOUNTS],
        users,
        audit,
        settings.base_url,
        http,
    )
    yield
    await tasks.close()
    await http.close()
    hashing.close()


async def _account_security(app: web.Application) -> AsyncIterator[None]:
    """Two-factor login and account changes, on the account service's own dependencies."""
    accounts = app[ACCOUNTS]
    deps = accounts.dependencies
    assert deps.mfa_tokens is not None
    app[ACCOUNT_CHANGES] = AccountChanges(deps)
    app[MFA] = MfaService(
        MfaDependencies(
            pool=deps.pool,
            accounts=accounts,
            users=deps.users,
            hashing=deps.hashing,
            limiter=deps.limiter,
            audit=deps.audit,
            tokens=deps.mfa_tokens,
            sealer=totp_sealer(app[SIGNING_KEYS]),
            issuer="Collab",
            # The live sessions are built later: looked up when someone turns TOTP off.
            turned_off=lambda user_id: app[SESSIONS].mfa_turned_off(user_id),
        )
    )
    yield


async def _workspace_documents(app: web.Application) -> AsyncIterator[None]:
    """MongoDB when COLLAB_MONGO_URL is set, PostgreSQL JSONB otherwise."""
    settings = app[SETTINGS]
    store: WorkspaceDocumentStore
    if settings.mongo_url is not None:
        from collab.workspace_documents.mongo import MongoWorkspaceDocuments

        store = MongoWorkspaceDocuments(settings.mongo_url.get_secret_value())
    else:
        store = PostgresWorkspaceDocuments(app[DB_POOL])
    access = WorkspaceAccess(app[DB_POOL], WorkspaceStore())
    app[WORKSPACE_ACCESS] = access
    documents = WorkspaceDocuments(
        store, SecretBox(app[SIGNING_KEYS]), access, AuditLog(), app[DB_POOL]
    )
    app[WORKSPACE_DOCUMENTS] = documents
    try:
        await store.start()
        await documents.repair()
    except Exception:
        # A store that is down must not keep the server from starting: /readyz reports it,
        # workspace creation answers 503, and the next start repairs the pairing.
        log.exception("the workspace document store is not ready")
    yield
    await store.close()


async def _live_sessions(app: web.Application) -> AsyncIterator[None]:
    """The live graph, built once in dependency order: every collaborator is a constructor
    argument, so nothing is set after construction.

    events, scopes → Socket.IO server (its Redis client manager) → deployment store, live
    files, fan-out → rooms → documents → deployments → sessions → workspaces, invitations
    → presence, sync, realtime.
    """
    settings, pool, redis = app[SETTINGS], app[DB_POOL], app[REDIS]
    workspace_documents, access = app[WORKSPACE_DOCUMENTS], app[WORKSPACE_ACCESS]
    authenticate = app[ACCOUNTS].authenticate
    events = SessionEvents(redis)
    webhooks = app[WEBHOOKS].emit
    session_store = SessionStore()
    scopes = SessionScopes(pool, session_store, UserStore())

    async def announce(key: DocumentKey, event: str, payload: dict[str, Any]) -> None:
        """Tell the members of every session that sees this document."""
        for session_id in await scopes.sessions_sharing(key):
            await events.emit(session_id, event, payload)

    # `/` events reach every process through python-socketio's Redis manager (ours
    # resubscribes within 2 s of an outage's end and closes its client at shutdown).
    manager = RedisClientManager(app[ENDPOINTS].redis_url, channel="collab:socketio")
    sio = socket_server(settings, manager)

    async def send(namespace: str, event: str, payload: bytes, eio_sids: list[str]) -> None:
        await send_event(sio, namespace, event, payload, eio_sids)

    docker = app[DOCKER]
    deployment_store = DeploymentStore(scopes.viewer)
    containers = (
        deployment_engine(settings, docker, await deployment_store.database_identity(pool))
        if docker
        else None
    )
    live_files = LiveFiles(pool, deployment_store, containers, scopes.dynamic)

    async def files_changed(changed: dict[DocumentKey, str]) -> None:
        by_session: dict[uuid.UUID, dict[str, str]] = {}
        for key, text in changed.items():
            for session_id in await scopes.sessions_sharing(key):
                by_session.setdefault(session_id, {})[key.path] = text
        await live_files.write_changes(by_session)
        editors = {
            key: sorted({str(u) for u in room.writers.values()})
            for key in changed
            if (room := rooms.loaded(key)) is not None
        }
        await webhook_files_changed(webhooks, changed, editors)

    async def file_created(key: DocumentKey) -> None:
        await announce(key, "file:created", {"path": key.path})

    fanout = DocumentFanout(redis)
    store = DocumentStore()
    rooms = DocumentRooms(
        pool,
        store,
        send,
        fanout,
        workspace_documents,
        file_created,
        files_changed,
        idle_seconds=settings.document_idle_seconds,
        compact_after=settings.document_compact_after,
        max_files_per_scope=settings.max_files_per_scope,
        synchronous_commit=settings.document_synchronous_commit,
    )
    documents = DocumentService(
        pool, store, rooms, announce, events.file_gone, AuditLog(), workspace_documents
    )
    versions = DocumentVersions(
        pool, VersionStore(), store, rooms, UserStore(), settings.document_versions_keep
    )
    rooms.on_compacted, app[VERSIONS] = versions.on_compacted, versions

    async def session_files(session_id: uuid.UUID) -> dict[str, str]:
        scope = await scopes.document_key(session_id)
        files = {}
        for entry in await documents.files(scope):
            key = DocumentKey(scope.scope_id, entry["path"], scope.in_workspace)
            files[entry["path"]] = await documents.text(key) or ""
        return files

    secrets = SecretBox(app[SIGNING_KEYS])

    async def environment_of(session: asyncpg.Record) -> DeployEnvironment:
        """The workspace's variables and the session's over them, secrets opened (only now,
        as the container starts)."""
        workspace: dict[str, Any] = {}
        if session["ws_id"] is not None:
            document = await workspace_documents.store.get(session["ws_id"]) or {}
            workspace = document.get("environment") or {}
        own = await session_store.environment(pool, session["session_id"])
        return merge_environment(workspace, own, secrets.open)

    async def workspace_of(session_id: uuid.UUID) -> uuid.UUID | None:
        scope = await scopes.document_key(session_id)
        return scope.scope_id if scope.in_workspace else None

    logs = LogFollowers(containers, events.emit) if containers is not None else None
    deployments = Deployments(
        pool,
        deployment_store,
        containers,
        dict(load_runtimes(settings.runtimes_file or CATALOGUE)),
        Limits.from_settings(settings),
        settings.preview_url,
        session_files,
        deployment_status(events.emit, scopes.document_key, webhooks),
        AuditLog(),
        app[TASKS],
        logs,
        workspace_documents.count,
        environment_of,
        DependencyInstaller(docker, Indexes.from_settings(settings)) if docker else None,
        workspace_of=workspace_of,
    )
    sessions = SessionService(
        pool,
        session_store,
        scopes,
        AuditLog(),
        events,
        settings.links_base_url,
        access,
        UserStore(),
        workspace_documents.count,
        deployments.stop_session,
        settings.max_sessions_per_user,
        mailer=app[MAILER],
        tasks=app[TASKS],
        secrets=secrets,
        webhooks=webhooks,
    )
    workspaces = WorkspaceService(
        pool,
        WorkspaceStore(),
        AuditLog(),
        access,
        workspace_documents,
        # Removing or demoting a workspace member reaches its sessions and their sockets.
        [sessions, MemberWebhooks(access, webhooks)],
    )
    app[WORKSPACES] = workspaces
    app[INVITATIONS] = InvitationService(
        pool,
        workspaces,
        UserStore(),
        AuditLog(),
        app[MAILER],
        app[TASKS],
        settings.links_base_url,
        timedelta(days=settings.invitation_ttl_days),
    )
    presence = Presence(sio, sessions, redis, pool, deployments.live_for)
    sync = DocumentSync(
        sio,
        rooms,
        sessions,
        authenticate,
        max_message_bytes=settings.max_message_bytes,
        messages_per_second=settings.socket_messages_per_second,
        bytes_per_second=settings.socket_bytes_per_second,
    )
    guard = ConnectionGuard.from_settings(
        settings, lambda request: client_info(request, settings.trusted_proxies).ip
    )
    realtime = RealtimeServer(sio, presence, sync, authenticate, redis, guard)
    terminals = TerminalEvents(
        sio,
        redis,
        pool,
        deployments.get,
        containers.open_shell if containers is not None else None,
        sessions.authorize,
        realtime.role_cap,
        client_of=lambda request: client_info(request, settings.trusted_proxies),
    )
    app[SESSIONS], app[DOCUMENTS], app[DEPLOYMENTS] = sessions, documents, deployments
    app[REALTIME] = realtime
    unwatch = watch_live(app[METRICS_REFRESH], sio, pool, deployment_store)
    await rooms.start()
    await fanout.start(rooms.receive_remote)
    await realtime.start()
    await terminals.start()
    yield
    await terminals.stop()
    if logs is not None:
        await logs.close()
    await realtime.stop()
    await manager.close()
    await fanout.stop()
    await rooms.stop()
    unwatch()


async def _deployments(app: web.Application) -> AsyncIterator[None]:
    """The preview proxy, and the reaper that keeps deployments honest."""
    settings, pool, sessions = app[SETTINGS], app[DB_POOL], app[SESSIONS]

    async def is_participant(session_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        # A read (unlike `role_of`, which makes a workspace member a participant).
        looker = Actor(user_id, ClientInfo(None, None))
        try:
            await sessions.authorize(looker, session_id, SessionRole.VIEWER)
        except (NotFound, Forbidden):
            return False
        return True

    async def person(token: str) -> Caller:
        """Previews take a person's access token, never an API key: the first visit carries
        it in the URL, where a long-lived key must not be."""
        caller = await app[ACCOUNTS].authenticate(token)
        if caller.is_api_key:
            raise InvalidToken("A preview takes an access token, not an API key.")
        return caller

    store = DeploymentStore(sessions.scopes.viewer)
    preview = PreviewProxy(pool, store, app[SIGNING_KEYS], person, is_participant, app[REDIS])
    await preview.start()
    app[PREVIEW] = preview
    docker = app[DOCKER]
    reaper = None
    if docker is not None:
        reaper = Reaper(
            pool,
            store,
            app[DEPLOYMENTS],
            deployment_engine(settings, docker, await store.database_identity(pool)),
            sessions.scopes.with_presence,
            idle_seconds=settings.deploy_idle_seconds,
            max_lifetime_seconds=settings.deploy_max_lifetime_seconds,
            interval=settings.deploy_check_interval_seconds,
        )
        try:
            await reaper.reconcile()
        except DockerUnavailable as exc:
            log.warning("deployments not reconciled: Docker does not answer (%s)", exc)
        reaper.start()
    yield
    if reaper is not None:
        await reaper.stop()
    await preview.close()


async def _drain(app: web.Application) -> None:
    """SIGTERM, after the listener closed and before in-flight requests are awaited: end
    every Socket.IO connection so its client reconnects to another process. The cleanup
    chain then runs in reverse: the group-commit writer commits what is queued (rooms stop)
    before the pools close."""
    realtime = app.get(REALTIME)
    if realtime is not None:
        ended = await realtime.drain(app[SETTINGS].shutdown_timeout_seconds / 2)
        log.info("drain: ended %d Socket.IO connection(s)", ended)


async def _socketio(request: web.Request) -> web.StreamResponse:
    return await request.app[REALTIME].handle(request)


async def _preview_host(request: web.Request, deployment_id: uuid.UUID) -> web.StreamResponse:
    return await request.app[PREVIEW].handle_host(request, deployment_id)


async def _preview(request: web.Request) -> web.StreamResponse:
    # The app's origin serves no preview unless asked to (unsafe for untrusted code).
    if not request.app[SETTINGS].preview_paths:
        raise NotFound("No such page.")
    return await request.app[PREVIEW].handle(request)


async def _preview_root(request: web.Request) -> web.StreamResponse:
    if not request.app[SETTINGS].preview_paths:
        raise NotFound("No such page.")
    raise web.HTTPFound(f"/preview/{request.match_info['deployment_id']}/")


def build_app(settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[
            # First: a preview's host is answered by the preview alone, whatever the path
            # (with request ids and error answers, none of the app's headers).
            preview_host_middleware(
                settings.preview_host_suffix,
                _preview_host,
                around=(
                    request_id_middleware,
                    metrics_middleware(preview_host=True),
                    error_middleware,
                ),
            ),
            request_id_middleware,
            # Outside the error middleware, so it counts the status actually answered.
            metrics_middleware(),
            # Outside the error middleware, so error answers carry these headers too.
            security_headers_middleware,
            cors_middleware,
            error_middleware,
        ],
        client_max_size=settings.max_body_bytes,
    )
    # Applied as each answer is prepared, so streamed ones carry them too.
    app.on_response_prepare.extend([security_headers.add_on_prepare, cors.add_on_prepare])
    app[SETTINGS] = settings
    app[SIGNING_KEYS] = load_signing_keys(settings)
    app[METRICS_REFRESH] = []
    app.cleanup_ctx.extend(
        [
            _infrastructure,
            _postgres,
            _redis,
            _docker,
            _accounts,
            _account_security,
            _workspace_documents,
            webhooks_context,
            _live_sessions,
            _deployments,
            account_lifecycle,
        ]
    )
    if settings.metrics_port is not None:
        app.cleanup_ctx.append(loopback_listener(settings.metrics_port))
    app.on_shutdown.append(_drain)
    app[ERROR_TRANSLATORS] = ErrorTranslators([service_errors.TRANSLATOR])
    app.add_routes(health.routes)
    app.add_routes(metrics_routes)
    app.add_routes(auth_routes.routes)
    app.add_routes([*lifecycle_routes.routes, *audit_routes.routes, *admin_routes.routes])
    app.add_routes([*mfa_routes.routes, *account_change_routes.routes])
    app.add_routes(api_key_routes.routes)
    app.add_routes(device_routes.routes)
    app.add_routes(workspace_routes.routes)
    app.add_routes(webhook_routes.routes)
    app.add_routes(version_routes.routes)  # before session_routes: see its docstring
    app.add_routes(session_routes.routes)
    app.add_routes(archive_routes.routes)
    app.add_routes(git_routes.routes)
    app.add_routes(deployment_routes.routes)
    app.add_routes(apidoc_routes.routes)
    app.router.add_route("*", "/preview/{deployment_id}", _preview_root)
    app.router.add_route("*", "/preview/{deployment_id}/{tail:.*}", _preview)
    add_socketio_routes(app, _socketio)
    # Last: the app's page answers every GET that no route above claims.
    app.add_routes(webapp_routes.routes)
    return app
