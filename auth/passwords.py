"""Password hashing with argon2id, off the event loop, in a pool bounded by the CPU count.

Each hash takes `memory_kib` of RAM, so the pool size caps memory under a login flood
(2 cores x 46 MiB here); queued requests wait without holding memory. The default cost is
OWASP's and ASVS 5.0's argon2id minimum (m=47104 KiB, t=1, p=1). Hashes made with other
parameters still verify and are upgraded on the next successful login.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError


@dataclass(frozen=True)
class Argon2Cost:
    memory_kib: int = 47104
    time_cost: int = 1
    parallelism: int = 1


@dataclass(frozen=True)
class Verification:
    ok: bool
    needs_rehash: bool = False


class PasswordHashing:
    def __init__(self, cost: Argon2Cost = Argon2Cost(), workers: int | None = None) -> None:
        self._hasher = PasswordHasher(
            time_cost=cost.time_cost,
            memory_cost=cost.memory_kib,
            parallelism=cost.parallelism,
            type=Type.ID,
        )
        self._pool = ThreadPoolExecutor(
            max_workers=workers or os.cpu_count() or 1, thread_name_prefix="argon2"
        )
        # Hashed once so unknown accounts cost the same time as known ones.
        self._dummy_hash = self._hasher.hash(os.urandom(16).hex())

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> Verification:
        """Check a password; with no stored hash, spend the same time and fail."""
        loop = asyncio.get_running_loop()
        target = stored_hash or self._dummy_hash
        ok = await loop.run_in_executor(self._pool, self._verify_sync, target, password)
        if not ok or stored_hash is None:
            return Verification(ok=False)
        return Verification(ok=True, needs_rehash=self._hasher.check_needs_rehash(stored_hash))

    def _verify_sync(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
