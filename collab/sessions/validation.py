"""Input rules for sessions, participants and session invitations."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import Field

from auth.account_inputs import Email
from kernel.validation import Input, Text

Language = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.+#-]+$")]


class SessionInput(Input):
    name: Text(255, min_length=1)  # type: ignore[valid-type]
    ws_id: uuid.UUID | None = None
    description: Text(10_000) | None = None  # type: ignore[valid-type]
    language: Language
    framework: Language | None = None
    is_dynamic: bool = False


class SessionPatch(Input):
    name: Text(255, min_length=1) | None = None  # type: ignore[valid-type]
    description: Text(10_000) | None = None  # type: ignore[valid-type]
    language: Language | None = None
    framework: Language | None = None
    is_dynamic: bool | None = None
    status: Annotated[str, Field(pattern="^(active|archived)$")] | None = None


class ParticipantPatch(Input):
    role: Annotated[str, Field(pattern="^(editor|viewer)$")]


class SessionInvitationInput(Input):
    email: Email | None = None
    role: Annotated[str, Field(pattern="^(editor|viewer)$")]
    message: Text(2000) | None = None  # type: ignore[valid-type]
    expires_in_hours: int = Field(default=72, ge=1, le=24 * 30)


class RenameInput(Input):
    path: Annotated[str, Field(min_length=1, max_length=512)]
