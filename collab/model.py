"""What sessions, documents and the real-time layer all speak of: which document (its scope
and path) and what a participant may do in it.

Pure values: no I/O and nothing of ours imported, so `sessions` and `documents` both
depend on this module instead of on each other.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field


class SessionRole(enum.StrEnum):
    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"

    @property
    def can_write(self) -> bool:
        return self is not SessionRole.VIEWER

    @property
    def rank(self) -> int:
        return {SessionRole.OWNER: 3, SessionRole.EDITOR: 2, SessionRole.VIEWER: 1}[self]


@dataclass(frozen=True, order=True)
class DocumentKey:
    scope_id: uuid.UUID  # a session id, or a workspace id when `in_workspace`
    path: str
    in_workspace: bool = field(default=False, compare=False)

    @property
    def lock_id(self) -> str:
        return f"{self.scope_id}/{self.path}"
