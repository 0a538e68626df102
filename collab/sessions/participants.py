"""A participant as clients see them: their row, the role they really hold, their profile."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg

from auth.users import Profile
from collab.model import SessionRole
from kernel.sql import Executor


class People(Protocol):
    """Names and emails of accounts: auth's (`UserStore`), asked on `db`."""

    async def profiles(
        self, db: Executor, user_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, Profile]: ...


@dataclass(frozen=True)
class Participant:
    row: asyncpg.Record  # participant_id, user_id, role (the row's), joined_at, ...
    role: SessionRole  # effective: bounded by the workspace role
    profile: Profile

    @property
    def participant_id(self) -> uuid.UUID:
        pid: uuid.UUID = self.row["participant_id"]
        return pid

    @property
    def user_id(self) -> uuid.UUID:
        uid: uuid.UUID = self.row["user_id"]
        return uid

    def json(self, *, show_email: bool) -> dict[str, Any]:
        """The email only for those allowed to see it (owners, the person)."""
        return {
            "participant_id": str(self.participant_id),
            "user": self.profile.public(show_email=show_email),
            "role": self.role.value,
            "joined_at": self.row["joined_at"].isoformat(),
            "last_active": self.row["last_active"].isoformat(),
            "is_active": self.row["is_active"],
        }
