"""Big documents (issue #14, goal 5): loading and compacting 1k, 10k and 100k stored updates.

Run by hand (not a test): `.venv/bin/python bench/big_document.py [--sizes 1000 10000 100000]
[--rounds 3]`. Needs `npm ci` in tests/js for the Yjs reference.

Per size, once: typing makes `size` single-character updates from three Yjs clients
(tests/documents/typing_support.py; every tenth a backspace). Per round: they are written
straight into PostgreSQL with the store's own `append` under a new file name (as if never
compacted), then a fresh room loads them:
- **load**: from a socket.io client connecting to the document's namespace until the
  answer to its `sync-step-1` (the whole document) arrives, checked against the typed text;
- **compaction**: the load finds more than `compact_after` updates and schedules one; from
  the answer until every row is folded into the snapshot;
- **max lag** during each: a task on the server's event loop sleeps 1 ms at a time and
  records how late it wakes; in brackets, the most CPU time the loop's thread spent between
  two wake-ups (what the loop itself held; the rest of a lag is the OS running others).
The app runs in this process (embedded PostgreSQL and Redis, as the tests start them) so the
ticker shares its loop. The reference is Yjs in Node (`tests/js/bench_big_apply.mjs`) turning
the same updates into a document: what y-leveldb, y-socket.io's persistence, does on load, in
one synchronous run (its event loop is blocked for all of it). Medians of the rounds; the
machine is shared and noisy: compare ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pycrdt
import socketio
from aiohttp.test_utils import TestClient, TestServer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from collab.app import build_app  # noqa: E402
from collab.embedded import EmbeddedPostgres, EmbeddedRedis  # noqa: E402
from collab.state import DOCUMENTS  # noqa: E402
from config import Settings  # noqa: E402
from tests.documents.typing_support import LoopLag, store_typed, typed_updates  # noqa: E402
from tests.live_support import live_session  # noqa: E402
from tests.support import TEST_SECRET  # noqa: E402


def text_of(update: bytes) -> str:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.apply_update(update)
    return str(doc.get("content", type=pycrdt.Text))


def reference(updates: list[bytes]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".bin") as file:
        for update in updates:
            file.write(struct.pack("<I", len(update)) + update)
        file.flush()
        done = subprocess.run(
            ["node", "bench_big_apply.mjs", file.name],
            cwd=REPO / "tests" / "js",
            capture_output=True,
            text=True,
            check=True,
        )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


async def one_round(
    client: TestClient[Any, Any],
    pool_url: str,
    session_id: str,
    token: str,
    size: int,
    round_: int,
    updates: list[bytes],
    text: str,
) -> dict[str, float]:
    path = f"big-{size}-{round_}.py"
    conn = await asyncpg.connect(pool_url)
    try:
        await store_typed(conn, uuid.UUID(session_id), path, updates)
        rooms = client.app[DOCUMENTS].rooms
        namespace = f"/yjs|{session_id}/{path}"
        sio = socketio.AsyncClient(reconnection=False)
        async with LoopLag() as lag:
            start = time.perf_counter()
            await sio.connect(
                str(client.make_url("")),
                namespaces=[namespace],
                auth={"token": token},
                transports=["websocket"],
            )
            answer = await sio.call("sync-step-1", b"\x00", namespace=namespace, timeout=120)
            loaded = time.perf_counter()
            for _ in range(60_000):  # until every row is folded (or 10 minutes)
                left = await conn.fetchval("SELECT count(*) FROM document_updates")
                if not left and not rooms._compacting:
                    break
                await asyncio.sleep(0.01)
            compacted = time.perf_counter()
        await sio.disconnect()
    finally:
        await conn.close()
    assert text_of(answer) == text, "the document loaded is not the typed text"
    return {
        "load_ms": (loaded - start) * 1000,
        "load_lag_ms": lag.max_between(start, loaded) * 1000,
        "compact_ms": (compacted - loaded) * 1000,
        "compact_lag_ms": lag.max_between(loaded, compacted) * 1000,
        "load_cpu_ms": lag.max_cpu_between(start, loaded) * 1000,
        "compact_cpu_ms": lag.max_cpu_between(loaded, compacted) * 1000,
    }


async def run(sizes: list[int], rounds: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="collab-big-"))
    postgres, redis = EmbeddedPostgres(data / "pg"), EmbeddedRedis(data / "redis")
    pg_url, redis_url = postgres.start(), redis.start()
    try:
        values: dict[str, Any] = {
            "secret_key": TEST_SECRET,
            "database_url": pg_url,
            "redis_url": redis_url,
            "data_dir": data,
        }
        settings = Settings(**values)
        client = TestClient(TestServer(build_app(settings)))
        await client.start_server()
        try:
            live = await live_session(client)
            rows = []
            for size in sizes:
                updates, text = typed_updates(size)
                results = [
                    await one_round(
                        client, pg_url, live.session_id, live.viewer.token, size, r, updates, text
                    )
                    for r in range(rounds)
                ]
                node = [reference(updates) for _ in range(rounds)]
                print(f"# {size}: {results} {node}", file=sys.stderr)
                rows.append((size, sum(map(len, updates)), results, node))
        finally:
            await client.close()
    finally:
        redis.stop()
        postgres.stop()

    def med(items: list[dict[str, Any]], field: str) -> float:
        return float(statistics.median(item[field] for item in items))

    print(f"median of {rounds} rounds (ms)")
    print(
        f"{'updates':>8} | {'bytes':>9} | {'load':>7} | {'load lag (cpu)':>14} |"
        f" {'compact':>8} | {'compact lag (cpu)':>17} | {'Yjs apply':>9} | {'Yjs merge':>9}"
    )
    for size, nbytes, results, node in rows:
        merge = "-" if node[0]["mergeMs"] is None else f"{med(node, 'mergeMs'):.0f}"
        print(
            f"{size:>8} | {nbytes:>9} | {med(results, 'load_ms'):>7.0f} |"
            f" {med(results, 'load_lag_ms'):>7.1f} ({med(results, 'load_cpu_ms'):>4.1f}) |"
            f" {med(results, 'compact_ms'):>8.0f} |"
            f" {med(results, 'compact_lag_ms'):>10.1f} ({med(results, 'compact_cpu_ms'):>4.1f}) |"
            f" {med(node, 'applyMs'):>9.0f} |"
            f" {merge:>9}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.sizes, args.rounds))


if __name__ == "__main__":
    main()
