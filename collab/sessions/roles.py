"""Session roles: owner, editor, viewer. Viewers receive every update but may not write."""

from __future__ import annotations

import enum


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
