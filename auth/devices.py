"""A person's logins ("devices"): listing them, ending one, and the new-device notice.

A login is one refresh-token family (`logins`, kept by `auth.refresh_tokens`). Ending one
revokes its refresh tokens, refuses its access tokens at once (they carry its id, checked
in `AccountService.authenticate` on every process), and closes its live sockets (announced
through `auth.revocation`).

New-device notice: a device is the browser family and operating system (no version, so
updates do not count) plus the network (IPv4 /24, IPv6 /64), stored only as a SHA-256 of
those with the user id. A login from a device the user never logged in from mails them a
notice; their very first login (registration, or the first after this feature arrived)
mails nothing: there is nothing yet to compare with.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from auth.callers import Caller
from auth.mail import Mail, Mailer
from auth.refresh_tokens import RefreshTokens
from auth.revocation import SessionRevocation
from auth.users import User
from kernel.audit import AuditEntry, AuditLog
from kernel.background import BackgroundTasks
from kernel.context import ClientInfo
from kernel.errors import NotFound

_BROWSERS = (
    ("Edge", re.compile(r"\bEdg(e|A|iOS)?/")),
    ("Opera", re.compile(r"\bOPR/|\bOpera\b")),
    ("Firefox", re.compile(r"\bFirefox/|\bFxiOS/")),
    ("Chrome", re.compile(r"Chrom(e|ium)/|\bCriOS/")),  # HeadlessChrome too
    ("Safari", re.compile(r"\bSafari/")),
)
_SYSTEMS = (
    ("iOS", re.compile(r"iPhone|iPad|iPod")),
    ("Android", re.compile(r"Android")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Macintosh|Mac OS X")),
    ("Linux", re.compile(r"Linux|X11")),
)
_PRODUCT = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,39}")


def device_name(user_agent: str | None) -> str:
    """A person-readable device, without versions: "Firefox on Linux", "curl"."""
    agent = (user_agent or "").strip()
    if not agent:
        return "an unknown device"
    browser = next((name for name, pattern in _BROWSERS if pattern.search(agent)), None)
    system = next((name for name, pattern in _SYSTEMS if pattern.search(agent)), None)
    if browser is None:
        product = _PRODUCT.match(agent)
        browser = product[0] if product and product[0] != "Mozilla" else "a browser"
    return f"{browser} on {system}" if system else browser


def network_of(ip: str | None) -> str:
    """The network a login came from: IPv4 /24, IPv6 /64."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if isinstance(address, ipaddress.IPv4Address) else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def device_hash(user_id: uuid.UUID, client: ClientInfo) -> str:
    seen = f"collab-device|{user_id}|{device_name(client.user_agent)}|{network_of(client.ip)}"
    return hashlib.sha256(seen.encode()).hexdigest()


class Devices:
    def __init__(
        self,
        pool: asyncpg.Pool,
        refresh: RefreshTokens,
        audit: AuditLog,
        revocation: SessionRevocation,
        mailer: Mailer,
        tasks: BackgroundTasks,
        security_page_url: str,
    ) -> None:
        self._pool = pool
        self._refresh = refresh
        self._audit = audit
        self._revocation = revocation
        self._mailer = mailer
        self._tasks = tasks
        self._security_page_url = security_page_url

    # -- the list and ending one -----------------------------------------------------------

    async def logins_of(self, caller: Caller) -> list[dict[str, Any]]:
        """The caller's logins that can still be used, the most recently used first."""
        rows = await self._pool.fetch(
            """SELECT l.login_id, l.user_agent, host(l.ip) AS ip, l.created_at, l.last_used_at
               FROM logins l
               WHERE l.user_id = $1 AND l.ended_at IS NULL
                 AND EXISTS (SELECT 1 FROM refresh_tokens rt
                             WHERE rt.family_id = l.login_id AND rt.revoked_at IS NULL
                               AND rt.expires_at > now() AND rt.absolute_expires_at > now())
               ORDER BY l.last_used_at DESC, l.login_id""",
            caller.user_id,
        )
        return [
            {
                "id": str(row["login_id"]),
                "user_agent": row["user_agent"],
                "device": device_name(row["user_agent"]),
                "ip": row["ip"],
                "created_at": row["created_at"].isoformat(),
                "last_used_at": row["last_used_at"].isoformat(),
                "current": row["login_id"] == caller.login_id,
            }
            for row in rows
        ]

    async def end(self, caller: Caller, login_id: uuid.UUID, client: ClientInfo) -> None:
        """End one of the caller's logins; another person's (or an ended one) is NotFound."""
        async with self._pool.acquire() as conn, conn.transaction():
            owner = await conn.fetchval(
                "SELECT user_id FROM logins WHERE login_id = $1 AND ended_at IS NULL FOR UPDATE",
                login_id,
            )
            if owner != caller.user_id:
                raise NotFound("No such login.")
            await self._refresh.revoke_family(conn, login_id)
            await self._audit.record(
                conn,
                AuditEntry(
                    "auth.login_ended",
                    caller.user_id,
                    resource_type="login",
                    resource_id=str(login_id),
                    new_value={"current": login_id == caller.login_id},
                ),
                client,
            )
        await self._revocation.credential_ended(login_id)

    async def end_others(self, user_id: uuid.UUID, keep: uuid.UUID | None) -> list[uuid.UUID]:
        """End every login of this user but `keep` (e.g. after a password change), with
        their access tokens and sockets; the ended logins' ids."""
        async with self._pool.acquire() as conn, conn.transaction():
            ended = await self._refresh.revoke_all_except(conn, user_id, keep)
        for login_id in ended:
            await self._revocation.credential_ended(login_id)
        return ended

    # -- the new-device notice -------------------------------------------------------------

    async def note_login(self, conn: asyncpg.Connection, user: User, client: ClientInfo) -> bool:
        """Remember the device of a login that just succeeded; mail a notice when the user
        has logged in before but never from it. Whether a notice was sent."""
        row = await conn.fetchrow(
            """WITH known AS (SELECT EXISTS (SELECT 1 FROM known_devices WHERE user_id = $1)
                                 AS any),
                    seen AS (INSERT INTO known_devices (user_id, device_hash) VALUES ($1, $2)
                             ON CONFLICT (user_id, device_hash)
                             DO UPDATE SET last_seen_at = now()
                             RETURNING (xmax = 0) AS new)
               SELECT seen.new, known.any FROM seen, known""",
            user.user_id,
            device_hash(user.user_id, client),
        )
        if not (row["new"] and row["any"]):
            return False
        device = device_name(client.user_agent)
        await self._audit.record(
            conn,
            AuditEntry(
                "auth.new_device",
                user.user_id,
                resource_type="user",
                resource_id=str(user.user_id),
                new_value={"device": device},
            ),
            client,
        )
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        mail = Mail(
            user.email,
            "New login to your account",
            f"Hello {user.username},\n\nYour account was just logged into from a device it "
            f"has not been used on before:\n\n  Device:  {device}\n"
            f"  Address: {client.ip or 'unknown'}\n  Time:    {when}\n\n"
            "If this was you, there is nothing to do.\n\nIf it was not, change your password "
            "now and end that login in your security settings:\n\n"
            f"{self._security_page_url}\n",
        )
        self._tasks.spawn(self._mailer.send(mail), "mail:new-device")
        return True
