"""Builds the account-lifecycle and platform-admin services (issue #12 §4 to §6) and runs
the periodic purge of deleted accounts: one cleanup context, after the live sessions it
archives through."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from aiohttp import web

from auth.account_deletion import (
    AccountLifecycle,
    LifecycleDependencies,
    PurgeSchedule,
    SecondFactor,
)
from auth.admins import AdminService
from auth.passwords import Argon2Cost, PasswordHashing
from auth.rate_limit import RateLimiter
from auth.users import User, UserStore
from collab.sessions.validation import SessionPatch
from collab.state import ACCOUNTS, DB_POOL, DEPLOYMENTS, MFA, REDIS, SESSIONS, SETTINGS
from kernel.audit import AuditLog
from kernel.context import Actor, ClientInfo

LIFECYCLE = web.AppKey("account_lifecycle", AccountLifecycle)
ADMINS = web.AppKey("platform_admins", AdminService)

# How often the server looks for accounts whose grace period is over.
PURGE_INTERVAL_SECONDS = 3600.0


def _second_factor(app: web.Application) -> SecondFactor | None:
    if MFA not in app:
        return None
    mfa = app[MFA]

    async def check(user: User, code: str, client: ClientInfo) -> None:
        # X1's check: a current, unused code (spends its step), wrong ones slow the account.
        await mfa.require_code(user, code, client, "account deletion")

    return check


def build_lifecycle(app: web.Application) -> AccountLifecycle:
    settings, sessions = app[SETTINGS], app[SESSIONS]

    async def sessions_of(actor: Actor) -> list[dict[str, Any]]:
        return await sessions.list_for(actor)

    async def archive(actor: Actor, session_id: uuid.UUID) -> None:
        await sessions.update(actor, session_id, SessionPatch(status="archived"))

    return AccountLifecycle(
        LifecycleDependencies(
            pool=app[DB_POOL],
            accounts=app[ACCOUNTS],
            users=UserStore(),
            hashing=PasswordHashing(
                Argon2Cost(
                    settings.argon2_memory_kib,
                    settings.argon2_time_cost,
                    settings.argon2_parallelism,
                )
            ),
            limiter=RateLimiter(app[REDIS]),
            audit=AuditLog(),
            second_factor=_second_factor(app),
            sessions_of=sessions_of,
            archive_session=archive,
            grace=timedelta(days=settings.account_deletion_grace_days),
            stop_deployments_of=app[DEPLOYMENTS].stop_owned_by,
            session_invitations_of=sessions.invitations_involving,
        )
    )


async def account_lifecycle(app: web.Application) -> AsyncIterator[None]:
    """The cleanup context: services on the app, the purge running while it serves."""
    lifecycle = build_lifecycle(app)
    app[LIFECYCLE] = lifecycle
    app[ADMINS] = AdminService(app[DB_POOL], app[ACCOUNTS], UserStore(), AuditLog())
    schedule = PurgeSchedule(lifecycle, PURGE_INTERVAL_SECONDS)
    schedule.start()
    yield
    await schedule.stop()
    lifecycle.close()
