"""What someone may do in a session, from the rows that say it: pure, no I/O.

The inputs come from two owners: the participant row (`role`, `joined_via`) from the session
store, the workspace role from auth. Every check (HTTP, sockets, listings, join links)
decides through these functions, so the rules live in one place.
"""

from __future__ import annotations

from auth.roles import Role
from collab.model import SessionRole

# How a participant row came to be (`session_participants.joined_via`).
OWNER, WORKSPACE, INVITATION = "owner", "workspace", "invitation"


def effective_role(
    participant_role: str | None,
    joined_via: str | None,
    workspace_role: Role | None,
    *,
    in_workspace: bool,
) -> SessionRole | None:
    """The role someone really holds in a session (None: no access at all).

    - A session of no workspace: the participant's role.
    - A workspace session, for the workspace's members: the participant's role (editor before
      they first open it), but never more than viewer for a workspace viewer.
    - A workspace session, for anyone else: only what a join link gave them. Rows of owners
      and of members who came in through the workspace count only while they are members.
    """
    if not in_workspace:
        return SessionRole(participant_role) if participant_role is not None else None
    if workspace_role is None:
        if joined_via == INVITATION and participant_role is not None:
            return SessionRole(participant_role)
        return None
    if workspace_role is Role.VIEWER:
        return SessionRole.VIEWER
    return SessionRole(participant_role) if participant_role is not None else SessionRole.EDITOR


def socket_role(role: SessionRole, *, archived: bool) -> SessionRole:
    """What an open socket may do: the effective role, read-only while archived."""
    return SessionRole.VIEWER if archived else role


def may_grant(
    role: SessionRole | None, workspace_role: Role | None, *, in_workspace: bool, granted: str
) -> bool:
    """Whether someone holding `role` may now hand out `granted` with a join link: owners and
    editors, up to their own role; on a workspace session only the workspace's owners and
    admins (a link opens the workspace's files to an outsider)."""
    if role is None or not role.can_write:
        return False
    if in_workspace and workspace_role not in (Role.OWNER, Role.ADMIN):
        return False
    try:
        wanted = SessionRole(granted)
    except ValueError:
        return False
    return role.rank >= wanted.rank
