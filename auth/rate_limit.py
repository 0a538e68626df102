"""Rate limits and progressive slow-down, counted in Redis so every process shares them.

Limits are fixed windows per (action, subject): the subject is a client network (an IPv4
address, or an IPv6 /64, since one host holds a whole /64) or an account. Failed logins
for one account slow further attempts progressively (1 s, 2 s, 4 s ... up to 5 min after
the fifth failure) instead of locking the owner out; a success clears them.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

from redis.asyncio import Redis

from kernel.errors import RateLimited

# INCR, set the window on first hit, return count and remaining ms, atomically.
_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('PTTL', KEYS[1])}
"""


@dataclass(frozen=True)
class Limit:
    max_hits: int
    window_seconds: int


# Defaults sized for people, not scripts: a user never meets them by hand.
LIMITS: dict[str, Limit] = {
    "login:ip": Limit(30, 60),
    "login:account": Limit(10, 60),
    "register:ip": Limit(10, 3600),
    "register:account": Limit(5, 3600),
    "forgot:ip": Limit(10, 3600),
    "forgot:account": Limit(3, 3600),
    "refresh:ip": Limit(60, 60),
    "refresh:account": Limit(30, 60),
    "verify:ip": Limit(30, 3600),
    "reset:ip": Limit(20, 3600),
    # Each provider login started stores a state row for 10 minutes.
    "oauth:ip": Limit(30, 60),
    # Two-factor login and account changes (auth/mfa.py, auth/account_changes.py).
    "mfa:ip": Limit(30, 60),
    "mfa_enrol:account": Limit(10, 3600),
    "password_change:account": Limit(10, 3600),
    "email_change:account": Limit(5, 3600),
    "verify_resend:ip": Limit(10, 3600),
    "verify_resend:account": Limit(3, 3600),
}

FREE_FAILURES = 5
MAX_DELAY_SECONDS = 300
FAILURE_MEMORY_SECONDS = 3600


def client_network(ip: str | None) -> str:
    """The unit an IP limit counts: the address, or its /64 for IPv6."""
    if not ip:
        return "unknown"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _account_key(account: str) -> str:
    return hashlib.sha256(account.strip().lower().encode()).hexdigest()[:32]


class RateLimiter:
    def __init__(self, redis: Redis, limits: dict[str, Limit] | None = None) -> None:
        self._redis = redis
        self._limits = limits or LIMITS
        self._hit = redis.register_script(_HIT)

    async def hit(self, action: str, subject: str) -> None:
        """Count one attempt; raise RateLimited once the window's budget is spent."""
        limit = self._limits[action]
        count, ttl_ms = await self._hit(
            keys=[f"rl:{action}:{subject}"], args=[limit.window_seconds * 1000]
        )
        if int(count) > limit.max_hits:
            raise RateLimited(-(-int(ttl_ms) // 1000))

    async def hit_ip(self, action: str, ip: str | None) -> None:
        await self.hit(f"{action}:ip", client_network(ip))

    async def hit_account(self, action: str, account: str) -> None:
        await self.hit(f"{action}:account", _account_key(account))

    # -- progressive slow-down for failed logins ------------------------------------------

    async def check_login_delay(self, account: str) -> None:
        wait_ms = int(await self._redis.pttl(f"lf:{_account_key(account)}:wait"))
        if wait_ms > 0:
            raise RateLimited(-(-wait_ms // 1000))

    async def record_login_failure(self, account: str) -> None:
        key = f"lf:{_account_key(account)}"
        failures = int(await self._redis.incr(key))
        await self._redis.expire(key, FAILURE_MEMORY_SECONDS)
        if failures >= FREE_FAILURES:
            delay = min(2 ** (failures - FREE_FAILURES), MAX_DELAY_SECONDS)
            await self._redis.set(f"{key}:wait", "1", ex=delay)

    async def clear_login_failures(self, account: str) -> None:
        key = f"lf:{_account_key(account)}"
        await self._redis.delete(key, f"{key}:wait")
