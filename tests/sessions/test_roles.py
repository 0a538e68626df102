"""The session access rules as pure functions: their truth table, and that they decide exactly
as the SQL they replaced did (it joined the workspace tables, which are auth's)."""

from __future__ import annotations

import itertools

import asyncpg
import pytest

from auth.roles import Role
from collab.model import SessionRole
from collab.sessions.roles import effective_role, may_grant, socket_role

OWNER, EDITOR, VIEWER = SessionRole.OWNER, SessionRole.EDITOR, SessionRole.VIEWER
# (participant row's role, how it came in), or no row at all.
ROWS = [(None, None)] + [
    (role, via)
    for role in ("owner", "editor", "viewer")
    for via in ("owner", "workspace", "invitation")
]
WORKSPACE_ROLES = [None, *Role]


@pytest.mark.parametrize(
    ("row_role", "via", "ws_role", "expected"),
    [
        ("editor", "invitation", None, EDITOR),
        ("owner", "owner", None, OWNER),
        ("viewer", "workspace", Role.OWNER, VIEWER),  # no workspace: the row's role, unbounded
        (None, None, Role.OWNER, None),  # no row, no access
    ],
)
def test_outside_a_workspace_the_row_decides(
    row_role: str | None, via: str | None, ws_role: Role | None, expected: SessionRole | None
) -> None:
    assert effective_role(row_role, via, ws_role, in_workspace=False) is expected


@pytest.mark.parametrize(
    ("row_role", "via", "expected"),
    [
        ("editor", "invitation", EDITOR),  # a join link from outside the workspace
        ("viewer", "invitation", VIEWER),
        ("owner", "owner", None),  # the session's owner, no longer a member
        ("editor", "workspace", None),  # came in through the workspace, no longer a member
        (None, None, None),
    ],
)
def test_in_a_workspace_non_members_keep_only_what_a_link_gave(
    row_role: str | None, via: str | None, expected: SessionRole | None
) -> None:
    assert effective_role(row_role, via, None, in_workspace=True) is expected


@pytest.mark.parametrize(("row_role", "via"), ROWS)
def test_a_workspace_viewer_only_reads_whatever_the_row_says(
    row_role: str | None, via: str | None
) -> None:
    assert effective_role(row_role, via, Role.VIEWER, in_workspace=True) is VIEWER


@pytest.mark.parametrize("ws_role", [Role.OWNER, Role.ADMIN, Role.EDITOR])
def test_workspace_members_hold_their_row_or_editor_before_they_first_open_it(
    ws_role: Role,
) -> None:
    assert effective_role(None, None, ws_role, in_workspace=True) is EDITOR
    assert effective_role("viewer", "invitation", ws_role, in_workspace=True) is VIEWER
    assert effective_role("owner", "owner", ws_role, in_workspace=True) is OWNER


def test_sockets_of_an_archived_session_only_read() -> None:
    for role in SessionRole:
        assert socket_role(role, archived=True) is VIEWER
        assert socket_role(role, archived=False) is role


@pytest.mark.parametrize(
    ("role", "ws_role", "in_workspace", "granted", "expected"),
    [
        (None, None, False, "viewer", False),
        (VIEWER, None, False, "viewer", False),  # viewers never invite
        (EDITOR, None, False, "editor", True),
        (EDITOR, None, False, "owner", False),  # never above one's own role
        (OWNER, None, False, "editor", True),
        (OWNER, Role.EDITOR, True, "viewer", False),  # workspace sessions: owners/admins only
        (EDITOR, Role.ADMIN, True, "editor", True),
        (OWNER, Role.OWNER, True, "editor", True),
        (EDITOR, None, True, "viewer", False),  # an outsider's link cannot spread
        (OWNER, None, False, "admin", False),  # not a session role
    ],
)
def test_who_may_hand_out_a_role(
    role: SessionRole | None,
    ws_role: Role | None,
    in_workspace: bool,
    granted: str,
    expected: bool,
) -> None:
    assert may_grant(role, ws_role, in_workspace=in_workspace, granted=granted) is expected


# The expressions the session store evaluated before (migration 0006 to this change), over a
# participant row `p`, an active membership `wp` and a session `s`; kept here as the oracle.
EFFECTIVE_ROLE_SQL = """CASE
    WHEN s.ws_id IS NULL THEN p.role
    WHEN wp.role IS NULL THEN CASE WHEN p.joined_via = 'invitation' THEN p.role END
    WHEN wp.role = 'viewer' THEN 'viewer'
    ELSE coalesce(p.role, 'editor') END"""
RANK_SQL = "array_position(ARRAY['viewer', 'editor', 'owner']::varchar[], {})"
MAY_GRANT_SQL = f"""coalesce(({EFFECTIVE_ROLE_SQL}) IN ('owner', 'editor')
    AND (s.ws_id IS NULL OR wp.role IN ('owner', 'admin'))
    AND {RANK_SQL.format(EFFECTIVE_ROLE_SQL)} >= {RANK_SQL.format("g.granted")}, false)"""


async def test_the_functions_decide_exactly_as_the_sql_they_replaced(database_url: str) -> None:
    cases = [
        (row_role, via, ws_role.value if ws_role else None, in_workspace, granted)
        for (row_role, via), ws_role, in_workspace, granted in itertools.product(
            ROWS, WORKSPACE_ROLES, (False, True), ("viewer", "editor", "owner")
        )
    ]
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            f"""SELECT c.n, {EFFECTIVE_ROLE_SQL} AS role, {MAY_GRANT_SQL} AS may_grant
                FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::bool[],
                            $5::varchar[]) WITH ORDINALITY
                     AS c(role, joined_via, ws_role, in_workspace, granted, n),
                LATERAL (SELECT c.role, c.joined_via) p,
                LATERAL (SELECT c.ws_role AS role) wp,
                LATERAL (SELECT CASE WHEN c.in_workspace THEN gen_random_uuid() END AS ws_id) s,
                LATERAL (SELECT c.granted::varchar AS granted) g
                ORDER BY c.n""",
            *(list(column) for column in zip(*cases, strict=True)),
        )
    finally:
        await conn.close()
    assert len(rows) == len(cases) == 10 * 5 * 2 * 3
    for (row_role, via, ws_role, in_workspace, granted), sql in zip(cases, rows, strict=True):
        workspace_role = Role(ws_role) if ws_role else None
        role = effective_role(row_role, via, workspace_role, in_workspace=in_workspace)
        case = (row_role, via, ws_role, in_workspace, granted)
        assert (role.value if role else None) == sql["role"], case
        decided = may_grant(role, workspace_role, in_workspace=in_workspace, granted=granted)
        assert decided is sql["may_grant"], case
