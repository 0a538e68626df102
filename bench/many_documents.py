"""Many documents on one process: N clients over D documents, each editing twice a second.

Run by hand (not a test): `.venv/bin/python bench/many_documents.py [--clients 2000]
[--documents 200] [--rounds 3] [--procs 2] [--seconds 20]`. Issue #14, goal 4; results and
how to read them in docs/performance-many-documents.md.

Each round starts a fresh reference server (`y-socket.io`'s own `server.mjs`) and a fresh
`collab serve` (embedded PostgreSQL and Redis), one after the other, alternating which goes
first, and drives each with the same client code (`tests/js/bench_many.mjs`, real npm
`y-socket.io` providers) through these phases, sampling the server process's RSS
(/proc/<pid>/status VmRSS) after each:
1. idle: the server started (collab: a user and a session exist), no client;
2. bare: N plain Socket.IO sockets connected on `/` (authenticated, in no document; the
   y-socket.io provider cannot connect without joining its document), then closed;
3. joined: N providers connected, N/D per document, every one synced, documents empty;
4. loaded: one client per document inserted `--text-bytes` of text, every client holds it;
5. edit: every client inserts a marker every 1/`--rate` s (open loop, each client's start
   jittered over one interval) for `--seconds`, then the deliveries drain.
Memory per idle socket = (bare - idle) / N; per loaded document = (loaded - joined) / D.
Latency is from an edit to its arrival at each other client of the same document.

With `--procs P`, the documents are split between P Node processes (document d goes to
process d mod P) and each process holds every client of its documents, so every latency is
taken on one process's clock; the driver merges the processes' histograms (0.1 ms bins).
CPU is the server process's user + sys time from the start of editing to the end of the
drain, per 1,000 deliveries (`+db`: collab's PostgreSQL and Redis added); `client CPU` is
the Node processes' share of a core while editing (near 1.0 per process means the clients,
not the server, may be the bottleneck).

Collab runs with the connection limits per address lifted (every client is on 127.0.0.1):
COLLAB_SOCKET_CONNECTIONS_BURST and COLLAB_SOCKET_CONNECTIONS_PER_SECOND; see `BENCH_ENV`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
JS = REPO / "tests" / "js"
sys.path.insert(0, str(REPO))

from bench.sync_latency import (  # noqa: E402
    cpu_seconds,
    database_pids,
    start_collab,
    start_reference,
)

# Limits that would refuse this load from one address, lifted for the benchmark. The
# rest of the defaults suffice: 200 files per session (quota 1,000), one session (100 per
# user), 2 messages a second per socket (200), a 10 kB insert (1 MiB per message).
BENCH_ENV = [
    "COLLAB_SOCKET_CONNECTIONS_BURST=1000000",
    "COLLAB_SOCKET_CONNECTIONS_PER_SECOND=1000000",
]


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Clients:
    """P Node processes, each owning some documents, driven phase by phase in lockstep."""

    def __init__(self, args: dict[str, Any], rooms: list[str], procs: int, clients: int) -> None:
        self.procs: list[subprocess.Popen[str]] = []
        for index in range(procs):
            mine = rooms[index::procs]
            bare = clients // procs + (1 if index < clients % procs else 0)
            own = {**args, "rooms": mine, "bare": bare}
            self.procs.append(
                subprocess.Popen(
                    ["node", "bench_many.mjs", json.dumps(own)],
                    cwd=JS,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                    bufsize=1,
                )
            )

    def phase(self, command: str, answer: str) -> list[str]:
        """Send `command` to every process and wait for each one's `answer` line (its rest)."""
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(command + "\n")
            proc.stdin.flush()
        rests = []
        for proc in self.procs:
            assert proc.stdout is not None
            while True:
                line = proc.stdout.readline()
                if not line:
                    raise RuntimeError(f"a client process ended during {command!r}")
                line = line.strip()
                if line.startswith("{") and "error" in json.loads(line):
                    raise RuntimeError(f"{command!r}: {line}")
                if line.split(" ", 1)[0] == answer:
                    rests.append(line[len(answer) :].strip())
                    break
        return rests

    def results(self) -> list[dict[str, Any]]:
        out = []
        for proc in self.procs:
            assert proc.stdout is not None
            out.append(json.loads(proc.stdout.readline()))
            proc.wait(timeout=60)
        return out

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def percentile(hist: dict[int, int], p: float) -> float | None:
    total = sum(hist.values())
    if not total:
        return None
    rank = min(total - 1, int(p * total))
    seen = 0
    for key in sorted(hist):
        seen += hist[key]
        if seen > rank:
            return key / 10
    return None


def run_one(
    name: str, args: argparse.Namespace, round_: int
) -> dict[str, Any]:  # pragma: no cover - a benchmark
    """One server, fresh, through every phase."""
    data_dir: Path | None = None
    if name == "collab":
        data_dir = Path(tempfile.mkdtemp(prefix="collab-bench-many-"))
        proc, url, token, session_id = start_collab(data_dir, BENCH_ENV + args.collab_env)
        rooms = [f"{session_id}/many-{round_}-{d}.txt" for d in range(args.documents)]
    else:
        proc, url = start_reference()
        token = ""
        rooms = [f"many-{round_}-{d}" for d in range(args.documents)]
    print(f"# {name} pid {proc.pid}", file=sys.stderr, flush=True)
    per_doc = args.clients // args.documents
    client_args = {
        "url": url,
        "token": token,
        "perDoc": per_doc,
        "rate": args.rate,
        "durationMs": int(args.seconds * 1000),
        "textBytes": args.text_bytes,
        "batch": args.batch,
    }
    clients = Clients(client_args, rooms, args.procs, args.clients)
    out: dict[str, Any] = {"server": name}
    began = time.monotonic()

    def note(what: str) -> None:
        print(f"#   {name} {what} at {time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)

    try:
        time.sleep(1)
        out["rss_idle"] = rss_mib(proc.pid)
        clients.phase("bare", "bare-ready")
        note("bare sockets connected")
        time.sleep(1)
        out["rss_bare"] = rss_mib(proc.pid)
        clients.phase("bare-close", "bare-closed")
        joined = [json.loads(rest) for rest in clients.phase("join", "joined")]
        note("providers joined")
        out["join_s"] = max(j["ms"] for j in joined) / 1000
        time.sleep(args.settle)
        out["rss_joined"] = rss_mib(proc.pid)
        clients.phase("load", "loaded")
        note("documents loaded")
        time.sleep(1)
        out["rss_loaded"] = rss_mib(proc.pid)
        others = database_pids(data_dir) if data_dir else []
        cpu0, db0 = cpu_seconds(proc.pid), sum(cpu_seconds(p) for p in others)
        wall0 = time.monotonic()
        start_at = int(time.time() * 1000) + 500
        clients.phase(f"edit {start_at}", "end")
        wall = time.monotonic() - wall0
        cpu = cpu_seconds(proc.pid) - cpu0
        db = sum(cpu_seconds(p) for p in others) - db0
        out["rss_edited"] = rss_mib(proc.pid)
        results = clients.results()
        note("edits drained")
    except Exception as exc:
        out["error"] = repr(exc)
        return out
    finally:
        clients.kill()
        proc.terminate()
        proc.wait(30)
    hist: dict[int, int] = {}
    for result in results:
        for key, count in result["hist"].items():
            hist[int(key)] = hist.get(int(key), 0) + count
    deliveries = sum(r["deliveries"] for r in results)
    worsts = [r.get("worst_per_second", []) for r in results]
    out |= {
        "edits": sum(r["edits"] for r in results),
        "expected": sum(r["expected"] for r in results),
        "deliveries": deliveries,
        "p50_ms": percentile(hist, 0.5),
        "p99_ms": percentile(hist, 0.99),
        "max_ms": max(hist) / 10 if hist else None,
        "deliveries_per_s": sum(r["deliveries_per_s"] or 0 for r in results),
        "server_cpu_share": cpu / wall,
        "cpu_ms_per_1k": cpu * 1e6 / deliveries if deliveries else None,
        "cpu_all_ms_per_1k": (cpu + db) * 1e6 / deliveries if deliveries and data_dir else None,
        "client_cpu_share": [round(r["client_cpu_share"], 2) for r in results],
        "client_cpu_ms_per_1k": (
            sum(r["client_cpu_s"] for r in results) * 1e6 / deliveries if deliveries else None
        ),
        "errors": {k: v for r in results for k, v in r["error_kinds"].items()},
        # The slowest delivery of the edits sent in each second: a stall shows as a run.
        "worst_ms_per_second": [
            max((w[i] or 0) for w in worsts if i < len(w))
            for i in range(max((len(w) for w in worsts), default=0))
        ],
    }
    n, d = args.clients, args.documents
    out["kib_per_idle_socket"] = (out["rss_bare"] - out["rss_idle"]) * 1024 / n
    out["kib_per_joined_socket"] = (out["rss_joined"] - out["rss_idle"]) * 1024 / n
    out["kib_per_loaded_document"] = (out["rss_loaded"] - out["rss_joined"]) * 1024 / d
    return out


FIELDS = [
    ("p50 ms", "p50_ms", 1),
    ("p99 ms", "p99_ms", 1),
    ("max ms", "max_ms", 0),
    ("deliveries/s", "deliveries_per_s", 0),
    ("CPU ms/1k", "cpu_ms_per_1k", 1),
    ("+db ms/1k", "cpu_all_ms_per_1k", 1),
    ("server CPU share", "server_cpu_share", 2),
    ("client CPU ms/1k", "client_cpu_ms_per_1k", 1),
    ("join s", "join_s", 1),
    ("RSS idle MiB", "rss_idle", 1),
    ("RSS bare MiB", "rss_bare", 1),
    ("RSS joined MiB", "rss_joined", 1),
    ("RSS loaded MiB", "rss_loaded", 1),
    ("RSS edited MiB", "rss_edited", 1),
    ("KiB/idle socket", "kib_per_idle_socket", 1),
    ("KiB/joined socket", "kib_per_joined_socket", 1),
    ("KiB/loaded doc", "kib_per_loaded_document", 1),
]


def median(results: list[dict[str, Any]], field: str) -> float | None:
    values = [r[field] for r in results if r.get(field) is not None]
    return statistics.median(values) if values else None


def main() -> None:  # pragma: no cover - a benchmark
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--rate", type=float, default=2.0, help="edits per client per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="editing time")
    parser.add_argument("--text-bytes", type=int, default=10_000, help="text per document")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--procs", type=int, default=2, help="Node client processes")
    parser.add_argument("--batch", type=int, default=50, help="connections opened at once")
    parser.add_argument("--settle", type=float, default=3.0, help="wait after joining, s")
    parser.add_argument("--collab-only", action="store_true", help="skip the reference")
    parser.add_argument("--json", type=Path, help="also write every round's figures here")
    parser.add_argument("--collab-env", nargs="*", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    if args.clients % args.documents:
        parser.error("--clients must be a multiple of --documents")

    rounds: list[dict[str, dict[str, Any]]] = []
    for round_ in range(args.rounds):
        order = ["collab", "reference"] if round_ % 2 == 0 else ["reference", "collab"]
        if args.collab_only:
            order = ["collab"]
        got: dict[str, dict[str, Any]] = {}
        for name in order:
            try:
                got[name] = run_one(name, args, round_)
            except Exception as exc:  # one failed round must not lose the others
                got[name] = {"server": name, "error": repr(exc)}
            summary = {k: v for k, v in got[name].items() if k != "hist"}
            print(f"# round {round_ + 1} {name}: {summary}", file=sys.stderr, flush=True)
        rounds.append(got)
    if args.json:
        args.json.write_text(json.dumps(rounds, indent=1))

    names = ["collab"] if args.collab_only else ["collab", "reference"]
    print(
        f"{args.clients} clients over {args.documents} documents, {args.rate:g} edits/s each,"
        f" {args.seconds:g} s; median of {args.rounds} alternating rounds"
    )
    print(f"{'':<18} | " + " | ".join(f"{n:>10}" for n in names))
    for label, field, digits in FIELDS:
        cells = []
        for name in names:
            ok = [r[name] for r in rounds if name in r and "error" not in r[name]]
            value = median(ok, field)
            cells.append("-" if value is None else f"{value:.{digits}f}")
        print(f"{label:<18} | " + " | ".join(f"{c:>10}" for c in cells))
    for name in names:
        ok = [r[name] for r in rounds if name in r and "error" not in r[name]]
        print(
            f"{name}: delivered {sum(r['deliveries'] for r in ok)}"
            f"/{sum(r['expected'] for r in ok)}, client CPU"
            f" {[r['client_cpu_share'] for r in ok]}, errors {[r['errors'] for r in ok]},"
            f" failed rounds {[r[name]['error'] for r in rounds if 'error' in r.get(name, {})]}"
        )


if __name__ == "__main__":
    main()
