"""Input rules for sessions, participants and session invitations."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import Field, field_validator

from auth.account_inputs import Email
from collab.workspace_documents.parts import Environment
from kernel.validation import Input, Text

Language = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.+#-]+$")]


class SessionInput(Input):
    name: Text(255, min_length=1)  # type: ignore[valid-type]
    ws_id: uuid.UUID | None = None
    description: Text(10_000) | None = None  # type: ignore[valid-type]
    language: Language
    framework: Language | None = None
    is_dynamic: bool = False


# Set by the runtime: the container's own (deployments drop them from a workspace's too).
# The runtime's, and the git routes' credentials (never handed to a container).
RESERVED_VARIABLES = frozenset({"PORT", "HOME", "PATH", "HOSTNAME", "GIT_TOKEN", "GIT_USERNAME"})
MAX_ENVIRONMENT_BYTES = 64 * 1024


class SessionEnvironment(Environment):
    """A session's variables, over its workspace's for its deployments: POSIX names, none the
    runtime sets or starting with COLLAB_, 64 KiB in all."""

    @field_validator("variables")
    @classmethod
    def _allowed(cls, variables: list[Any]) -> list[Any]:
        for variable in variables:
            name = variable.name
            if name in RESERVED_VARIABLES or name.upper().startswith("COLLAB_"):
                raise ValueError(f"{name} is reserved: the server sets it, or it is for git only")
        if sum(len(v.name) + len(v.value) for v in variables) > MAX_ENVIRONMENT_BYTES:
            raise ValueError(f"the variables exceed {MAX_ENVIRONMENT_BYTES // 1024} KiB in all")
        return variables


class SessionPatch(Input):
    name: Text(255, min_length=1) | None = None  # type: ignore[valid-type]
    description: Text(10_000) | None = None  # type: ignore[valid-type]
    language: Language | None = None
    framework: Language | None = None
    is_dynamic: bool | None = None
    status: Annotated[str, Field(pattern="^(active|archived)$")] | None = None
    environment: SessionEnvironment | None = None


class ParticipantPatch(Input):
    role: Annotated[str, Field(pattern="^(editor|viewer)$")]


class SessionInvitationInput(Input):
    email: Email | None = None
    role: Annotated[str, Field(pattern="^(editor|viewer)$")]
    message: Text(2000) | None = None  # type: ignore[valid-type]
    expires_in_hours: int = Field(default=72, ge=1, le=24 * 30)


class RenameInput(Input):
    path: Annotated[str, Field(min_length=1, max_length=512)]
