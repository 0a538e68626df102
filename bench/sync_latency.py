"""Edit latency and throughput: this server against the reference y-socket.io Node server.

Run by hand (not a test):
`.venv/bin/python bench/sync_latency.py [--mode open|closed] [--clients 10 50 200] [--rounds 3]`.
Starts the reference server (`y-socket.io`'s own `server.mjs`, no persistence, no auth) and
`collab serve` (embedded PostgreSQL and Redis: every update durable before it is relayed),
then drives both with the same client code, N real y-socket.io providers in one document in
one Node process, alternating servers round by round, and prints the medians:
- `open` (`tests/js/bench_clients.mjs`): about 100 edits a second in total, whatever the
  server does; every server keeps up, so this measures latency at a light load;
- `closed` (`tests/js/bench_closed_loop.mjs`): every client edits, in turn, as fast as a
  window of unacknowledged deliveries allows (`--window`, default 2(N-1): two edits in
  flight), for `--seconds`, starting `--settle` seconds after every client synced (joining
  is not editing: each newcomer's awareness still reaches everyone); this measures what
  the server carries under load.
CPU is each server process's user + sys time (/proc/<pid>/stat) while the clients edit, per
1,000 deliveries; for collab, `+db` adds its PostgreSQL and Redis child processes; `clients`
is the Node process running every client (what the client side costs a delivery). Needs
`npm ci` in tests/js. Absolute numbers on a shared machine are noisy: compare the two
columns of one run; the CPU ratio moves least.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
JS = REPO / "tests" / "js"
sys.path.insert(0, str(REPO))

from tests.support import free_port  # noqa: E402

TOTAL_EDITS_PER_SECOND = 100
DURATION_MS = 8000


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def post(url: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        result: dict[str, Any] = json.loads(response.read())
        return result


def start_reference() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        ["node", "node_modules/y-socket.io/dist/server/server.mjs"],
        cwd=JS,
        env={**os.environ, "PORT": str(port), "HOST": "127.0.0.1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url)
    return proc, url


def start_collab(
    data_dir: Path, extra_env: list[str]
) -> tuple[subprocess.Popen[bytes], str, str, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLLAB_")}
    env |= {"COLLAB_LOG_LEVEL": "WARNING", "COLLAB_SOCKET_MESSAGES_PER_SECOND": "1000"}
    # Every client comes from this one address: past the default burst of 60 handshakes,
    # 200 clients took 30 s to join (5 a second). Joining is not what is measured.
    env |= {"COLLAB_SOCKET_CONNECTIONS_BURST": "1000"}
    env |= dict(item.partition("=")[::2] for item in extra_env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "collab", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/healthz")
    pair = post(
        f"{url}/api/auth/register",
        {"email": "bench@example.org", "username": "bench", "password": "Bench-Mark-2026"},
    )
    session = post(
        f"{url}/api/sessions", {"name": "bench", "language": "python"}, pair["access_token"]
    )
    return proc, url, pair["access_token"], session["session_id"]


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + sys time of one process (fields 14 and 15 of /proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def descendants(pid: int) -> list[int]:
    """Every process under `pid` (the embedded PostgreSQL's backends, Redis)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def database_pids(data_dir: Path) -> list[int]:
    """The embedded PostgreSQL and Redis (daemons: not children of `collab serve`, but
    running in its data directory) and their backends."""
    roots = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cwd = os.readlink(f"/proc/{entry}/cwd")
            except OSError:
                continue
            if cwd.startswith(str(data_dir.resolve())):
                roots.append(int(entry))
    return sorted({pid for root in roots for pid in [root, *descendants(root)]})


Sample = tuple[float, dict[int, float]]
# A server process and, for collab, its data directory (where its databases run).
Server = tuple[int, Path | None]


def cpu_sample(pid: int, data_dir: Path | None) -> Sample:
    others = descendants(pid) + (database_pids(data_dir) if data_dir else [])
    return cpu_seconds(pid), {other: cpu_seconds(other) for other in set(others)}


def run_clients(url: str, room: str, token: str, clients: int, server: Server) -> dict[str, Any]:
    """The open loop: about TOTAL_EDITS_PER_SECOND edits a second in total."""
    interval = max(10, round(clients * 1000 / TOTAL_EDITS_PER_SECOND))
    args = {
        "url": url,
        "room": room,
        "token": token,
        "clients": clients,
        "intervalMs": interval,
        "durationMs": DURATION_MS,
    }
    return drive("bench_clients.mjs", args, server)


def run_closed_loop(
    url: str,
    room: str,
    token: str,
    clients: int,
    server: Server,
    window: int,
    seconds: float,
    settle: float,
) -> dict[str, Any]:
    args = {
        "url": url,
        "room": room,
        "token": token,
        "clients": clients,
        "window": window or 2 * (clients - 1),
        "durationMs": int(seconds * 1000),
        "settleMs": int(settle * 1000),
    }
    return drive("bench_closed_loop.mjs", args, server)


def drive(script: str, args: dict[str, Any], server: Server) -> dict[str, Any]:
    """Run one client script; CPU is sampled between its `start` and `end` lines (or around
    the whole run for a script that prints neither)."""
    proc = subprocess.Popen(
        ["node", script, json.dumps(args)],
        cwd=JS,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    before = after = cpu_sample(*server)
    clients_before = clients_after = cpu_seconds(proc.pid)
    last = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.strip()
        if line == "start":
            before = cpu_sample(*server)
            clients_before = cpu_seconds(proc.pid)
        elif line == "end":
            after = cpu_sample(*server)
            clients_after = cpu_seconds(proc.pid)
        elif line:
            last = line
    stderr = proc.stderr.read() if proc.stderr else ""
    proc.wait(timeout=30)
    if after is before:
        after = cpu_sample(*server)
    try:
        result: dict[str, Any] = json.loads(last)
    except ValueError:
        return {"error": stderr[-500:] or "no output"}
    own = after[0] - before[0]
    children = sum(t - before[1].get(pid, 0.0) for pid, t in after[1].items())
    if result.get("deliveries"):
        result["cpu_ms_per_1k"] = own * 1e6 / result["deliveries"]
        result["cpu_all_ms_per_1k"] = (own + children) * 1e6 / result["deliveries"]
        if clients_after > clients_before:  # sampled between `start` and `end` only
            # The Node process of all the clients: what one delivery costs the client side.
            clients = clients_after - clients_before
            result["clients_cpu_ms_per_1k"] = clients * 1e6 / result["deliveries"]
    return result


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def median(results: list[dict[str, Any]], field: str) -> float | None:
    values = [r[field] for r in results if r.get(field) is not None]
    return statistics.median(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["open", "closed"], default="closed")
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", type=int, default=0, help="closed loop: deliveries")
    parser.add_argument("--seconds", type=float, default=5.0, help="closed loop: edit time")
    parser.add_argument(
        "--settle", type=float, default=2.0, help="closed loop: wait after joining, s"
    )
    parser.add_argument("--collab-only", action="store_true", help="skip the reference")
    parser.add_argument(
        "--collab-env",
        nargs="*",
        default=[],
        metavar="NAME=VALUE",
        help="settings for collab, e.g. COLLAB_DOCUMENT_SYNCHRONOUS_COMMIT=true",
    )
    args = parser.parse_args()

    reference, ref_url = start_reference()
    data_dir = Path(tempfile.mkdtemp(prefix="collab-bench-"))
    collab, collab_url, token, session_id = start_collab(data_dir, args.collab_env)
    print(f"# collab pid {collab.pid}, reference pid {reference.pid}", file=sys.stderr)

    def run(url: str, room: str, tok: str, n: int, server: Server) -> dict[str, Any]:
        if args.mode == "open":
            return run_clients(url, room, tok, n, server)
        return run_closed_loop(url, room, tok, n, server, args.window, args.seconds, args.settle)

    rows = []
    try:
        for n in args.clients:
            for round_ in range(args.rounds):
                # Alternate which server goes first, so drift on the machine hits both.
                order = ["collab", "reference"] if round_ % 2 == 0 else ["reference", "collab"]
                got: dict[str, dict[str, Any]] = {}
                for name in order:
                    if name == "collab":
                        room = f"{session_id}/bench-{args.mode}-{n}-{round_}.txt"
                        got[name] = run(collab_url, room, token, n, (collab.pid, data_dir))
                    elif not args.collab_only:
                        room = f"ref-{args.mode}-{n}-{round_}"
                        got[name] = run(ref_url, room, "", n, (reference.pid, None))
                    else:
                        got[name] = {"error": "skipped"}
                rows.append((n, got["collab"], got["reference"]))
                print(f"# N={n} round {round_ + 1}: {got}", file=sys.stderr)
    finally:
        collab.terminate()
        reference.terminate()
        collab.wait(30)
        reference.wait(30)

    print(f"mode: {args.mode}, median of {args.rounds} alternating rounds")
    print(
        f"{'N':>4} | {'server':<9} | {'p50 ms':>7} | {'p99 ms':>7} | {'deliveries/s':>12} |"
        f" {'CPU ms/1k':>9} | {'+db':>7} | {'clients':>7} | {'delivered':>15}"
    )
    print("-" * 100)
    for n in args.clients:
        for label, index in (("collab", 1), ("reference", 2)):
            results = [row[index] for row in rows if row[0] == n and "error" not in row[index]]
            if not results:
                print(f"{n:>4} | {label:<9} | failed: {[r[index] for r in rows if r[0] == n]}")
                continue
            got_ = sum(r["deliveries"] for r in results)
            want = sum(r["expected"] for r in results)
            print(
                f"{n:>4} | {label:<9} | {fmt(median(results, 'p50_ms')):>7} |"
                f" {fmt(median(results, 'p99_ms')):>7} |"
                f" {fmt(median(results, 'deliveries_per_s'), 0):>12} |"
                f" {fmt(median(results, 'cpu_ms_per_1k'), 0):>9} |"
                f" {fmt(median(results, 'cpu_all_ms_per_1k'), 0) if label == 'collab' else '':>7} |"
                f" {fmt(median(results, 'clients_cpu_ms_per_1k'), 0):>7} |"
                f" {got_}/{want}"
            )


if __name__ == "__main__":
    main()
