"""Workspace roles, highest first: owner, admin, editor, viewer."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANKS = {Role.OWNER: 4, Role.ADMIN: 3, Role.EDITOR: 2, Role.VIEWER: 1}
