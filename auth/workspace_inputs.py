"""What workspace requests may carry: a workspace, a change to it, a role, an invitation."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import Field

from auth.account_inputs import Email
from kernel.validation import Input, Text


class WorkspaceInput(Input):
    name: Text(255, min_length=1)  # type: ignore[valid-type]
    description: Text(10_000) | None = None  # type: ignore[valid-type]
    is_public: bool = False
    is_template: bool = False


class WorkspacePatch(Input):
    name: Text(255, min_length=1) | None = None  # type: ignore[valid-type]
    description: Text(10_000) | None = None  # type: ignore[valid-type]
    is_public: bool | None = None
    is_template: bool | None = None
    status: Annotated[str, Field(pattern="^(active|archived)$")] | None = None
    # Members without two-factor login are refused the workspace's sessions and documents.
    require_mfa: bool | None = None


class RoleInput(Input):
    role: Annotated[str, Field(pattern="^(owner|admin|editor|viewer)$")]


class InvitationInput(Input):
    email: Email | None = None
    # A real UUID (36 hex digits and dashes in the right places), or a 422: the schema's
    # old pattern let 36 dashes through to a 500.
    user_id: uuid.UUID | None = None
    role: Annotated[str, Field(pattern="^(admin|editor|viewer)$")]
