"""Telling every server process that sessions ended, so live sockets close.

Published on Redis channels; the real-time layer subscribes and disconnects the sockets
concerned: every socket of a user (`user_revoked`: logout-all, password reset,
deactivation), or only those opened with one credential (`credential_ended`: one login
ended from the devices list, or one API key revoked).

Access tokens are cut off independently: each carries the user's token generation (its
`gen` claim), which ending every session raises (`users.token_generation`), so a token of
an older generation is refused at once, even one issued within the same second; and the
login it belongs to (`sid`), refused once that login has ended (`logins.ended_at`).
"""

from __future__ import annotations

import uuid

from redis.asyncio import Redis

CHANNEL = "collab:user-revoked"
CREDENTIAL_CHANNEL = "collab:credential-ended"


class SessionRevocation:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def user_revoked(self, user_id: uuid.UUID) -> None:
        await self._redis.publish(CHANNEL, str(user_id))

    async def credential_ended(self, credential_id: uuid.UUID) -> None:
        """A login (refresh-token family) or an API key ended: close its sockets."""
        await self._redis.publish(CREDENTIAL_CHANNEL, str(credential_id))
