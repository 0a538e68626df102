"""Who is asking, from where: passed from the edge into services for audit and limits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None
    user_agent: str | None


@dataclass(frozen=True)
class Actor:
    user_id: uuid.UUID
    client: ClientInfo
