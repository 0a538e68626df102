"""The `deployments` table (with `past_deployments` and `deployment_participants`): the only
module that queries them, and the one place that says how a deployment's status may move.

    starting ──▶ running ──▶ stopping ──▶ stopped
        │           │            │
        └───────────┴────────────┴──────▶ failed        (any live state may fail)
        └──────────────────────▶ stopping               (stopped or failed before it ran)

A stop or a failure always passes through `stopping` (the container is removed there), so
`stopped` and `failed` are reached from `stopping` in practice. Two recovery moves exist only
for the reconciler at start-up: a live row whose container still runs is adopted as
`running`, and an orphan is set `running` again so that it is stopped the normal way.
`stopped` and `failed` are final.

Every update names the statuses it moves from in its WHERE clause, taken from the table
below; the SQL is otherwise exactly what the services ran before. Methods take a pool or a
connection (`Executor`), as every store does. The session tables and `users` are other
packages': what a deployment needs of them (which sessions are dynamic, who is present, who
a preview's viewer is) is asked of the sessions package, never read here.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Awaitable, Callable

import asyncpg

from kernel.sql import Executor


class Status(enum.StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


# A live deployment holds (or is about to hold) a container and its network.
LIVE = (Status.STARTING, Status.RUNNING, Status.STOPPING)
FINAL = (Status.STOPPED, Status.FAILED)

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.STARTING: frozenset({Status.RUNNING, Status.STOPPING, Status.FAILED}),
    Status.RUNNING: frozenset({Status.STOPPING, Status.FAILED}),
    Status.STOPPING: frozenset({Status.STOPPED, Status.FAILED}),
    Status.STOPPED: frozenset(),
    Status.FAILED: frozenset(),
}
# The reconciler's moves at start-up (see the module docstring), never taken otherwise.
RECOVERY: dict[Status, frozenset[Status]] = {Status.STOPPING: frozenset({Status.RUNNING})}
# What clients are shown as a session's deployments, and what stopping a session stops.
ACTIVE = (Status.STARTING, Status.RUNNING)


class IllegalTransition(ValueError):
    pass


# Who someone looking at a preview is to its session: (their email, the role their
# participant row grants, or viewer without one); None when the account is gone.
ViewerOf = Callable[[uuid.UUID, uuid.UUID], Awaitable[tuple[str, str] | None]]


def may_move(old: Status, new: Status, *, recovering: bool = False) -> bool:
    return new in TRANSITIONS[old] or (recovering and new in RECOVERY.get(old, frozenset()))


def sources(new: Status, *, recovering: bool = False) -> tuple[Status, ...]:
    """Every status a deployment may move to `new` from, in declaration order."""
    return tuple(old for old in Status if may_move(old, new, recovering=recovering))


def _in(statuses: tuple[Status, ...]) -> str:
    # Literals, not parameters: the partial indexes on `status` keep matching the queries.
    if len(statuses) == 1:
        return f"status = '{statuses[0].value}'"
    return "status IN (" + ", ".join(f"'{s.value}'" for s in statuses) + ")"


_LIVE = _in(LIVE)
_TO_RUNNING = _in(sources(Status.RUNNING))  # starting
_TO_STOPPING = _in(sources(Status.STOPPING))  # starting, running
_ACTIVE = _in(ACTIVE)
_REARM = _in(sources(Status.RUNNING, recovering=True))  # starting, stopping
# Every column but `output` (up to 256 KiB that only the logs route reads).
_ROW = """deployment_id, session_id, deployment_url, container_id, port, status, owner_id,
    created_at, started_at, stopped_at, last_active, runtime, public, reason, address"""


class DeploymentStore:
    def __init__(self, viewer_of: ViewerOf) -> None:
        self._viewer_of = viewer_of

    # -- reserving and starting -----------------------------------------------------

    async def lock_reservations(self, conn: asyncpg.Connection) -> None:
        """Reservations take turns, across processes, until the transaction ends."""
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('collab-deploy'))")

    async def live_counts(
        self, db: Executor, owner_id: uuid.UUID, session_id: uuid.UUID
    ) -> tuple[int, int]:
        """Live deployments of this user, and of this session."""
        counts = await db.fetchrow(
            """SELECT count(*) FILTER (WHERE owner_id = $1) AS mine,
                      count(*) FILTER (WHERE session_id = $2) AS here
               FROM deployments WHERE status = ANY($3::varchar[])""",
            owner_id,
            session_id,
            list(LIVE),
        )
        return counts["mine"], counts["here"]

    async def insert_starting(
        self,
        db: Executor,
        *,
        deployment_id: uuid.UUID,
        session_id: uuid.UUID,
        url: str,
        port: int,
        owner_id: uuid.UUID,
        runtime: str,
        public: bool,
        engine: str = "docker",
        cluster: str | None = None,
    ) -> asyncpg.Record:
        """A new deployment in `starting` (`port`: the app's, inside its container), of the
        engine and cluster that will run it."""
        row: asyncpg.Record = await db.fetchrow(
            f"""INSERT INTO deployments (deployment_id, session_id, deployment_url,
                   port, status, owner_id, runtime, public, engine, cluster)
               VALUES ($1, $2, $3, $4, '{Status.STARTING.value}', $5, $6, $7, $8, $9)
               RETURNING *""",
            deployment_id,
            session_id,
            url,
            port,
            owner_id,
            runtime,
            public,
            engine,
            cluster,
        )
        return row

    async def set_container(
        self, db: Executor, deployment_id: uuid.UUID, container_id: str, address: str
    ) -> None:
        """The container, and its address on the deployment's network."""
        await db.execute(
            "UPDATE deployments SET container_id = $2, address = $3 WHERE deployment_id = $1",
            deployment_id,
            container_id,
            address,
        )

    async def keep_output(self, db: Executor, deployment_id: uuid.UUID, output: str) -> None:
        """What the app printed, kept when its container goes (already cut and masked)."""
        await db.execute(
            "UPDATE deployments SET output = $2 WHERE deployment_id = $1", deployment_id, output
        )

    async def output(self, db: Executor, deployment_id: uuid.UUID) -> str | None:
        text: str | None = await db.fetchval(
            "SELECT output FROM deployments WHERE deployment_id = $1", deployment_id
        )
        return text

    async def mark_running(self, db: Executor, deployment_id: uuid.UUID) -> bool:
        """starting → running, once the app answered; False (and no change) when it was
        stopped meanwhile."""
        moved = await db.fetchval(
            f"UPDATE deployments SET status = '{Status.RUNNING.value}', started_at = now(), "
            f"last_active = now() WHERE deployment_id = $1 AND {_TO_RUNNING} "
            "RETURNING true",
            deployment_id,
        )
        return moved is True

    # -- stopping and archiving ------------------------------------------------------------

    async def begin_stopping(
        self, db: Executor, deployment_id: uuid.UUID, reason: str
    ) -> asyncpg.Record | None:
        """starting|running → stopping; None when it was not in either (already stopping,
        stopped or failed: someone else is stopping it)."""
        row: asyncpg.Record | None = await db.fetchrow(
            f"UPDATE deployments SET status = '{Status.STOPPING.value}', reason = $2 "
            f"WHERE deployment_id = $1 AND {_TO_STOPPING} RETURNING *",
            deployment_id,
            reason[:500],
        )
        return row

    async def end(
        self, conn: asyncpg.Connection, deployment_id: uuid.UUID, status: Status, reason: str
    ) -> asyncpg.Record:
        """stopping → stopped|failed, and archive it in `past_deployments`, in one transaction.

        Unguarded by status on purpose: only the caller whose `begin_stopping` succeeded
        gets here, and it finishes what it began.
        """
        if not may_move(Status.STOPPING, status):
            raise IllegalTransition(f"a deployment does not end as {status}")
        async with conn.transaction():
            done: asyncpg.Record = await conn.fetchrow(
                "UPDATE deployments SET status = $2, stopped_at = now() WHERE deployment_id = $1 "
                f"RETURNING {_ROW}",
                deployment_id,
                status.value,
            )
            await conn.execute(
                """INSERT INTO past_deployments (original_deployment_id, session_id,
                       deployment_url, container_id, port, owner_id, created_at, started_at,
                       stopped_at, total_runtime_minutes, reason_for_stop)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, coalesce(ceil(
                       extract(epoch FROM $9::timestamptz - $8::timestamptz) / 60), 0)::bigint,
                       $10)
                   ON CONFLICT (original_deployment_id) DO NOTHING""",
                deployment_id,
                done["session_id"],
                done["deployment_url"],
                done["container_id"],
                done["port"],
                done["owner_id"],
                done["created_at"],
                done["started_at"],
                done["stopped_at"],
                reason[:255],
            )
        return done

    # -- reading ---------------------------------------------------------------------------

    async def get(self, db: Executor, deployment_id: uuid.UUID) -> asyncpg.Record | None:
        """The row without its kept output (`output` reads that)."""
        row: asyncpg.Record | None = await db.fetchrow(
            f"SELECT {_ROW} FROM deployments WHERE deployment_id = $1", deployment_id
        )
        return row

    async def stoppable_of_session(self, db: Executor, session_id: uuid.UUID) -> list[uuid.UUID]:
        """The session's deployments that a stop would move to `stopping`."""
        rows = await db.fetch(
            f"SELECT deployment_id FROM deployments WHERE session_id = $1 AND {_ACTIVE}",
            session_id,
        )
        return [r["deployment_id"] for r in rows]

    async def stoppable_of_owner(self, db: Executor, owner_id: uuid.UUID) -> list[uuid.UUID]:
        """The deployments this person started that a stop would move to `stopping`."""
        rows = await db.fetch(
            f"SELECT deployment_id FROM deployments WHERE owner_id = $1 AND {_ACTIVE}",
            owner_id,
        )
        return [r["deployment_id"] for r in rows]

    async def shown_of_session(self, db: Executor, session_id: uuid.UUID) -> list[asyncpg.Record]:
        """The session's starting and running deployments, oldest first (what clients see)."""
        rows: list[asyncpg.Record] = await db.fetch(
            f"SELECT * FROM deployments WHERE session_id = $1 AND {_ACTIVE} ORDER BY created_at",
            session_id,
        )
        return rows

    async def past_of_session(self, db: Executor, session_id: uuid.UUID) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await db.fetch(
            "SELECT * FROM past_deployments WHERE session_id = $1 ORDER BY stopped_at DESC",
            session_id,
        )
        return rows

    async def running_of_sessions(
        self, db: Executor, session_ids: list[uuid.UUID], cluster: str | None = None
    ) -> list[asyncpg.Record]:
        """Running deployments, with a container, of those sessions (of one cluster)."""
        rows: list[asyncpg.Record] = await db.fetch(
            f"""SELECT d.deployment_id, d.container_id, d.session_id FROM deployments d
               WHERE d.status = '{Status.RUNNING.value}'
                 AND d.container_id IS NOT NULL AND d.session_id = ANY($1::uuid[])
                 AND ($2::varchar IS NULL OR d.cluster = $2)""",
            session_ids,
            cluster,
        )
        return rows

    # -- the preview proxy ------------------------------------------------------------------

    async def touch(self, db: Executor, deployment_id: uuid.UUID) -> None:
        """Preview traffic: the deployment is not idle."""
        await db.execute(
            "UPDATE deployments SET last_active = now() WHERE deployment_id = $1", deployment_id
        )

    async def record_viewer(
        self, db: Executor, deployment_id: uuid.UUID, user_id: uuid.UUID, session_id: uuid.UUID
    ) -> None:
        """A participant looked at the preview (the session package says who they are)."""
        viewer = await self._viewer_of(session_id, user_id)
        if viewer is None:
            return  # the account is gone
        email, role = viewer
        await db.execute(
            """INSERT INTO deployment_participants (deployment_id, user_id, email, role)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (deployment_id, user_id)
               DO UPDATE SET last_active = now(), is_active = true""",
            deployment_id,
            user_id,
            email,
            role,
        )

    # -- the reaper and the reconciler ------------------------------------------------------

    async def running_for_review(
        self,
        db: Executor,
        idle_seconds: float,
        max_lifetime_seconds: float,
        cluster: str | None = None,
    ) -> list[asyncpg.Record]:
        """Every running deployment (of one cluster), with whether its preview had no
        traffic for the idle time (`quiet`) and whether it lived too long (`expired`)."""
        rows: list[asyncpg.Record] = await db.fetch(
            f"""SELECT d.deployment_id, d.container_id, d.session_id,
                      d.last_active < now() - make_interval(secs => $1) AS quiet,
                      d.started_at < now() - make_interval(secs => $2) AS expired
               FROM deployments d WHERE d.status = '{Status.RUNNING.value}'
                 AND ($3::varchar IS NULL OR d.cluster = $3)""",
            idle_seconds,
            max_lifetime_seconds,
            cluster,
        )
        return rows

    async def live(self, db: Executor, cluster: str | None = None) -> list[asyncpg.Record]:
        """Live deployments (of one cluster)."""
        rows: list[asyncpg.Record] = await db.fetch(
            "SELECT deployment_id, container_id, session_id, status FROM deployments "
            f"WHERE {_LIVE} AND ($1::varchar IS NULL OR cluster = $1)",
            cluster,
        )
        return rows

    async def claim_unclustered(self, db: Executor, cluster: str, engine: str) -> int:
        """Recovery: live rows from before clusters were recorded become this cluster's."""
        done = await db.execute(
            f"UPDATE deployments SET cluster = $1, engine = $2 WHERE {_LIVE} AND cluster IS NULL",
            cluster,
            engine,
        )
        return int(done.split()[-1])

    async def database_identity(self, db: Executor) -> str:
        """This database's own id (half of the default cluster id)."""
        identity: uuid.UUID = await db.fetchval("SELECT id FROM deployment_database_identity")
        return str(identity)

    async def adopt(self, db: Executor, deployment_id: uuid.UUID, container_id: str) -> None:
        """Recovery: a live deployment whose container still runs is running."""
        await db.execute(
            f"UPDATE deployments SET container_id = $2, status = '{Status.RUNNING.value}', "
            "started_at = coalesce(started_at, now()) WHERE deployment_id = $1",
            deployment_id,
            container_id,
        )

    async def rearm(self, db: Executor, deployment_id: uuid.UUID) -> None:
        """Recovery: an orphan is set running again, to be stopped the normal way."""
        await db.execute(
            f"UPDATE deployments SET status = '{Status.RUNNING.value}' WHERE deployment_id = $1 "
            f"AND {_REARM}",
            deployment_id,
        )
