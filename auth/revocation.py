"""Telling every server process that a user's sessions ended, so live sockets close.

Published on a Redis channel; the real-time layer subscribes and disconnects that user's
sockets. Access tokens are cut off independently: each carries the user's token generation
(its `gen` claim), which ending every session raises (`users.token_generation`), so a token
of an older generation is refused at once, even one issued within the same second.
"""

from __future__ import annotations

import uuid

from redis.asyncio import Redis

CHANNEL = "collab:user-revoked"


class SessionRevocation:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def user_revoked(self, user_id: uuid.UUID) -> None:
        await self._redis.publish(CHANNEL, str(user_id))
