"""Typed keys for what the composition root puts on the aiohttp application."""

from __future__ import annotations

import asyncpg
from aiohttp import web
from redis.asyncio import Redis

from auth.account_changes import AccountChanges
from auth.accounts import AccountService
from auth.invitations import InvitationService
from auth.keys import SigningKeys
from auth.mail import Mailer
from auth.mfa import MfaService
from auth.oauth import OAuthService
from auth.workspaces import WorkspaceAccess, WorkspaceService
from collab.documents.service import DocumentService
from collab.realtime import RealtimeServer
from collab.sessions.service import SessionService
from collab.workspace_documents.service import WorkspaceDocuments
from config import Settings
from containers.engine import DockerEngine
from containers.lifecycle import Deployments
from containers.preview import PreviewProxy
from kernel.background import BackgroundTasks

SETTINGS = web.AppKey("settings", Settings)
SIGNING_KEYS = web.AppKey("signing_keys", SigningKeys)
DB_POOL = web.AppKey("db_pool", asyncpg.Pool)
REDIS = web.AppKey("redis", Redis)
DOCKER = web.AppKey[DockerEngine | None]("docker")


class Endpoints:
    """Where PostgreSQL and Redis were found: configured URLs or the embedded servers."""

    def __init__(self, database_url: str, redis_url: str) -> None:
        self.database_url = database_url
        self.redis_url = redis_url


ENDPOINTS = web.AppKey("endpoints", Endpoints)
ACCOUNTS = web.AppKey("accounts", AccountService)
MFA = web.AppKey("mfa", MfaService)
ACCOUNT_CHANGES = web.AppKey("account_changes", AccountChanges)
TASKS = web.AppKey("tasks", BackgroundTasks)
WORKSPACES = web.AppKey("workspaces", WorkspaceService)
WORKSPACE_ACCESS = web.AppKey("workspace_access", WorkspaceAccess)
MAILER = web.AppKey("mailer", Mailer)
INVITATIONS = web.AppKey("invitations", InvitationService)
OAUTH = web.AppKey("oauth", OAuthService)
REALTIME = web.AppKey("realtime", RealtimeServer)
SESSIONS = web.AppKey("sessions", SessionService)
DOCUMENTS = web.AppKey("documents", DocumentService)
WORKSPACE_DOCUMENTS = web.AppKey("workspace_documents", WorkspaceDocuments)
DEPLOYMENTS = web.AppKey("deployments", Deployments)
PREVIEW = web.AppKey("preview", PreviewProxy)
