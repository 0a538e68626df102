"""What the session service tells the real-time layer, on every server process.

Messages go over one Redis channel as JSON; each process applies them to the sockets it
holds (emit to the session's room, change a socket's role, disconnect a socket).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from redis.asyncio import Redis

from collab.model import DocumentKey

CHANNEL = "collab:session-events"


class SessionEvents:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def _publish(self, kind: str, session_id: uuid.UUID, **data: Any) -> None:
        message = {"kind": kind, "session_id": str(session_id), **data}
        await self._redis.publish(CHANNEL, json.dumps(message, default=str))

    async def emit(self, session_id: uuid.UUID, event: str, payload: dict[str, Any]) -> None:
        """Send a `/`-namespace event to every socket that joined the session."""
        await self._publish("emit", session_id, event=event, payload=payload)

    async def role_changed(self, session_id: uuid.UUID, user_id: uuid.UUID, role: str) -> None:
        """Open document connections of that user now write (or not) with this role."""
        await self._publish("role", session_id, user_id=str(user_id), role=role)

    async def removed(self, session_id: uuid.UUID, user_id: uuid.UUID | None) -> None:
        """Disconnect that user's sockets in the session (everyone's when user_id is None)."""
        await self._publish(
            "removed", session_id, user_id=str(user_id) if user_id is not None else None
        )

    async def file_gone(self, key: DocumentKey) -> None:
        """A file was deleted or renamed: close its document connections, drop its room."""
        await self._publish("file_gone", key.scope_id, path=key.path, in_workspace=key.in_workspace)
