"""Edit latency and throughput: this server against the reference y-socket.io Node server.

Run by hand (not a test): `.venv/bin/python bench/sync_latency.py [--clients 10 50 200]`.
Starts the reference server (`y-socket.io`'s own `server.mjs`, no persistence, no auth) and
`collab serve` (embedded PostgreSQL and Redis: every update committed before it is
relayed), then drives both with the same client code (`tests/js/bench_clients.mjs`: N real
y-socket.io providers in one document, about 100 edits a second in total) and prints a
table. Needs `npm ci` in tests/js. Absolute numbers on a shared machine are noisy: compare
the two columns of one run, and repeat (--rounds) to see the spread.
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


def start_collab(data_dir: Path) -> tuple[subprocess.Popen[bytes], str, str, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLLAB_")}
    env |= {"COLLAB_LOG_LEVEL": "WARNING", "COLLAB_SOCKET_MESSAGES_PER_SECOND": "1000"}
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


def run_clients(url: str, room: str, token: str, clients: int) -> dict[str, Any]:
    interval = max(10, round(clients * 1000 / TOTAL_EDITS_PER_SECOND))
    args = {
        "url": url,
        "room": room,
        "token": token,
        "clients": clients,
        "intervalMs": interval,
        "durationMs": DURATION_MS,
    }
    done = subprocess.run(
        ["node", "bench_clients.mjs", json.dumps(args)],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    try:
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"error": done.stderr[-500:] or "no output"}
    return result


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()

    reference, ref_url = start_reference()
    data_dir = Path(tempfile.mkdtemp(prefix="collab-bench-"))
    collab, collab_url, token, session_id = start_collab(data_dir)
    rows = []
    try:
        for n in args.clients:
            for round_ in range(args.rounds):
                room = f"{session_id}/bench-{n}-{round_}.txt"
                ours = run_clients(collab_url, room, token, n)
                theirs = run_clients(ref_url, f"ref-{n}-{round_}", "", n)
                rows.append((n, ours, theirs))
                print(
                    f"# N={n} round {round_ + 1}: collab {ours} | reference {theirs}",
                    file=sys.stderr,
                )
    finally:
        collab.terminate()
        reference.terminate()
        collab.wait(30)
        reference.wait(30)

    print(
        f"{'N':>4} | {'server':<9} | {'p50 ms':>7} | {'p99 ms':>7} | {'deliveries/s':>12} |"
        f" {'delivered':>10}"
    )
    print("-" * 66)
    for n in args.clients:
        for label, index in (("collab", 1), ("reference", 2)):
            results = [row[index] for row in rows if row[0] == n and "error" not in row[index]]
            if not results:
                print(f"{n:>4} | {label:<9} | failed: {[r[index] for r in rows if r[0] == n]}")
                continue
            p50 = statistics.median(r["p50_ms"] for r in results)
            p99 = statistics.median(r["p99_ms"] for r in results)
            rate = statistics.median(r["deliveries_per_s"] for r in results)
            got = sum(r["deliveries"] for r in results)
            want = sum(r["expected"] for r in results)
            print(
                f"{n:>4} | {label:<9} | {fmt(p50):>7} | {fmt(p99):>7} | {fmt(rate, 0):>12} |"
                f" {got}/{want}"
            )


if __name__ == "__main__":
    main()
