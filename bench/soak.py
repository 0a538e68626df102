"""Soak: a steady mixed load against one `collab serve` process, its memory and descriptors
sampled, their slope fitted, and the ERROR lines of its log counted.

Run by hand (an hour; add COLLAB_DOCKER_HOST and built runtime images for deploys):
    .venv/bin/python bench/soak.py --minutes 60
    COLLAB_DOCKER_HOST=unix:///var/run/docker.sock .venv/bin/python bench/soak.py --minutes 60

The load, all at once for the whole run:
- writers: Python Yjs clients (pycrdt over python-socketio, the y-socket.io wire protocol),
  each typing into one of a few documents and deleting to keep them short;
- churn: people joining the session (`/` socket, `session:join`), opening a document,
  typing a little and leaving;
- deploys (when COLLAB_DOCKER_HOST is set): deploy the session, wait for it to run, stop it.
Every `--sample-every` seconds the server's resident memory and open descriptors are read.
The first fifth of the run is warm-up (pools fill, caches load) and left out of the fit.
At the end every writer must show the same text as the stored document.
`tests/faults/test_soak.py` runs three minutes of this in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pycrdt
import socketio

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.cluster_support import api, setup_session  # noqa: E402
from tests.live_support import Member  # noqa: E402
from tests.support import ServerProcess  # noqa: E402

MiB = 1024 * 1024
FILES = ("util.py", "notes.md", "data.txt")  # main.py is the deployed app
APP = (
    "import http.server, os\n"
    "http.server.HTTPServer(('', int(os.environ['PORT'])),"
    " http.server.SimpleHTTPRequestHandler).serve_forever()\n"
)
MAX_LENGTH = 4000  # characters a document is kept under (writers delete beyond it)


def file_name(path: str, generation: int) -> str:
    """The name of a writer's file in a generation (`--rotate-every`): util.py, util-1.py..."""
    if generation == 0:
        return path
    stem, _, extension = path.rpartition(".")
    return f"{stem}-{generation}.{extension}"


@dataclass
class Files:
    """The files the writers type into now: every rotation moves them to new ones."""

    generation: int = 0

    def names(self) -> list[str]:
        return [file_name(path, self.generation) for path in FILES]


@dataclass
class Sample:
    at: float
    rss: int
    fds: int
    edits: int = 0  # edits made so far


@dataclass
class Report:
    seconds: float
    samples: list[Sample]
    edits: int = 0
    joins: int = 0
    deploys: int = 0
    errors: list[str] = field(default_factory=list)  # ERROR lines of the server's log
    client_errors: list[str] = field(default_factory=list)

    def steady(self) -> list[Sample]:
        start = self.samples[0].at + self.seconds / 5
        return [s for s in self.samples if s.at >= start]

    def slopes(self) -> tuple[float, float]:
        """Fitted growth per hour over the steady part: (MiB of RSS, descriptors)."""
        steady = self.steady()
        times = [s.at for s in steady]
        rss = slope(times, [s.rss / MiB for s in steady]) * 3600
        fds = slope(times, [float(s.fds) for s in steady]) * 3600
        return rss, fds

    def per_edit(self) -> float:
        """Fitted RSS growth per edit over the steady part, in bytes."""
        steady = self.steady()
        edits = [float(s.edits) for s in steady]
        return slope(edits, [float(s.rss) for s in steady])

    def summary(self) -> str:
        rss, fds = self.slopes()
        steady = self.steady()
        first, last = steady[0], steady[-1]
        return "\n".join(
            [
                f"soak: {self.seconds / 60:.1f} min, {len(self.samples)} samples, "
                f"{self.edits} edits, {self.joins} joins/leaves, {self.deploys} deploys",
                f"RSS: {first.rss / MiB:.1f} -> {last.rss / MiB:.1f} MiB over the steady part, "
                f"slope {rss:+.2f} MiB/h ({rss * 1024 / 60:+.1f} KiB/min, "
                f"{self.per_edit() / 1024:+.2f} KiB per edit)",
                f"open fds: {first.fds} -> {last.fds}, slope {fds:+.2f}/h ({fds / 60:+.3f}/min)",
                f"ERROR lines in the server log: {len(self.errors)}; "
                f"client errors: {len(self.client_errors)}",
            ]
        )


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs."""
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    var = sum((x - mean_x) ** 2 for x in xs)
    if var == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var


class YjsClient:
    """One document over the y-socket.io protocol: answers the server's `sync-step-1`, asks
    for its own, applies `sync-update`s, and types."""

    def __init__(self, base: str, session_id: str, path: str, token: str) -> None:
        self.base, self.token = base, token
        self.namespace = f"/yjs|{session_id}/{path}"
        self.doc: pycrdt.Doc[Any] = pycrdt.Doc()
        self.text = self.doc.get("content", type=pycrdt.Text)
        self.sio = socketio.AsyncClient(reconnection=True, reconnection_delay=0.2)
        self.sio.on("sync-step-1", self._their_step_1, namespace=self.namespace)
        self.sio.on("sync-update", self._update, namespace=self.namespace)
        self.sio.on("sync-error", self._error, namespace=self.namespace)
        self.sio.on("connect", self._connected, namespace=self.namespace)
        self.errors: list[str] = []

    async def connect(self) -> None:
        await self.sio.connect(
            self.base,
            namespaces=[self.namespace],
            auth={"token": self.token},
            transports=["websocket"],
            wait_timeout=10,
        )

    def _their_step_1(self, state_vector: bytes) -> bytes:
        return self.doc.get_update(state_vector)

    def _update(self, update: bytes) -> None:
        self.doc.apply_update(update)

    def _error(self, error: Any) -> None:
        self.errors.append(str(error))

    async def _connected(self) -> None:
        # Our own step 1: what the server has that we lack (also after a reconnect).
        async def ask() -> None:
            try:
                diff = await self.sio.call(
                    "sync-step-1", self.doc.get_state(), namespace=self.namespace, timeout=10
                )
            except socketio.exceptions.SocketIOError as exc:
                # A churn reader may leave before the answer: only a connected one's counts.
                if self.sio.connected:
                    self.errors.append(f"sync-step-1: {exc!r}")
                return
            self.doc.apply_update(diff)

        asyncio.get_running_loop().create_task(ask())

    async def edit(self, token: str) -> None:
        state = self.doc.get_state()
        length = len(self.text)
        if length > MAX_LENGTH:
            start = random.randrange(0, length - 200)
            del self.text[start : start + 200]
        else:
            self.text.insert(random.randint(0, length), token)
        await self.sio.emit("sync-update", self.doc.get_update(state), namespace=self.namespace)

    def content(self) -> str:
        return str(self.text)

    async def close(self) -> None:
        await self.sio.disconnect()


@dataclass
class Slot:
    """One writer: its client, swapped for a new one at each rotation."""

    client: YjsClient
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


async def _writer(slot: Slot, rate: float, stop: asyncio.Event, report: Report) -> None:
    n = 0
    while not stop.is_set():
        async with slot.lock:
            await slot.client.edit(f"<{id(slot) % 1000}:{n}>")
        n += 1
        report.edits += 1
        await asyncio.sleep(random.expovariate(rate))


async def _rotate(
    base: str,
    session_id: str,
    slots: list[Slot],
    files: Files,
    every: float,
    stop: asyncio.Event,
    report: Report,
) -> None:
    """Every `every` seconds the writers move on to new files, so the old ones go idle and
    are unloaded: what stays then is what the server keeps beyond a document's history."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
            return
        files.generation += 1
        names = files.names()
        for i, slot in enumerate(slots):
            fresh = YjsClient(base, session_id, names[i % len(names)], slot.client.token)
            try:
                await fresh.connect()
            except Exception as exc:
                report.client_errors.append(f"rotate: {exc!r}")
                continue
            async with slot.lock:
                old, slot.client = slot.client, fresh
            report.client_errors.extend(old.errors)
            await old.close()


async def _churn(
    base: str,
    session_id: str,
    member: Member,
    files: Files,
    every: float,
    stop: asyncio.Event,
    report: Report,
) -> None:
    while not stop.is_set():
        await asyncio.sleep(every)
        person = socketio.AsyncClient(reconnection=False)
        reader = YjsClient(base, session_id, random.choice(files.names()), member.token)
        try:
            await person.connect(base, auth={"token": member.token}, transports=["websocket"])
            joined = await person.call("session:join", {"session_id": session_id}, timeout=10)
            if not joined.get("ok"):
                report.client_errors.append(f"session:join: {joined}")
            await reader.connect()
            for i in range(5):
                await reader.edit(f"[j{report.joins}:{i}]")
                report.edits += 1
                await asyncio.sleep(0.1)
            report.joins += 1
            report.client_errors.extend(reader.errors)
        except Exception as exc:  # reported, not fatal: the soak measures, it does not stop
            report.client_errors.append(f"churn: {exc!r}")
        finally:
            await reader.close()
            await person.disconnect()


async def deploy_once(
    http: aiohttp.ClientSession, base: str, session_id: str, owner: Member
) -> dict[str, Any]:
    """Deploy the session, wait while it starts, stop it; the deployment as it ended."""
    started = await api(
        http, "POST", f"{base}/api/sessions/{session_id}/deployments", owner.token, {}
    )
    deployment = f"{base}/api/deployments/{started['deployment_id']}"
    for _ in range(120):
        status = (await api(http, "GET", deployment, owner.token))["status"]
        if status != "starting":
            break
        await asyncio.sleep(0.5)
    await api(http, "POST", f"{deployment}/stop", owner.token)
    for _ in range(120):
        ended: dict[str, Any] = await api(http, "GET", deployment, owner.token)
        if ended["status"] not in ("starting", "running", "stopping"):
            return ended
        await asyncio.sleep(0.25)
    return ended


async def write_app(base: str, session_id: str, owner: Member) -> None:
    """A `main.py` that serves HTTP on $PORT: what a deploy runs."""
    app = YjsClient(base, session_id, "main.py", owner.token)
    await app.connect()
    app.text.insert(0, APP)
    await app.sio.emit("sync-update", app.doc.get_update(b"\x00"), namespace=app.namespace)
    await asyncio.sleep(0.5)
    await app.close()


async def _deploys(
    http: aiohttp.ClientSession,
    base: str,
    session_id: str,
    owner: Member,
    every: float,
    stop: asyncio.Event,
    report: Report,
) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
            return
        try:
            await deploy_once(http, base, session_id, owner)
            report.deploys += 1
        except Exception as exc:
            report.client_errors.append(f"deploy: {exc!r}")


async def _sample(pid: int, every: float, stop: asyncio.Event, report: Report) -> None:
    process = psutil.Process(pid)
    while not stop.is_set():
        report.samples.append(
            Sample(time.monotonic(), process.memory_info().rss, process.num_fds(), report.edits)
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


async def soak(
    base: str,
    pid: int,
    seconds: float,
    *,
    sample_every: float = 10.0,
    writers: int = 8,
    edits_per_second: float = 4.0,
    churn_every: float = 2.0,
    deploy_every: float | None = None,
    rotate_every: float | None = None,
) -> Report:
    """Run the load for `seconds` against the server at `base` (process `pid`); with
    `rotate_every`, the writers move on to new files that often."""
    report = Report(seconds, [])
    stop = asyncio.Event()
    async with aiohttp.ClientSession() as http:
        session_id, owner, editor = await setup_session(http, base)
        if deploy_every is not None:
            await write_app(base, session_id, owner)
        files = Files()
        slots = [
            Slot(YjsClient(base, session_id, FILES[i % len(FILES)], (owner, editor)[i % 2].token))
            for i in range(writers)
        ]
        for slot in slots:
            await slot.client.connect()
        tasks = [
            asyncio.create_task(_sample(pid, sample_every, stop, report)),
            *(asyncio.create_task(_writer(s, edits_per_second, stop, report)) for s in slots),
            asyncio.create_task(_churn(base, session_id, editor, files, churn_every, stop, report)),
        ]
        if rotate_every is not None:
            tasks.append(
                asyncio.create_task(
                    _rotate(base, session_id, slots, files, rotate_every, stop, report)
                )
            )
        if deploy_every is not None:
            tasks.append(
                asyncio.create_task(
                    _deploys(http, base, session_id, owner, deploy_every, stop, report)
                )
            )
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks)
        report.samples.append(
            Sample(
                time.monotonic(),
                psutil.Process(pid).memory_info().rss,
                psutil.Process(pid).num_fds(),
                report.edits,
            )
        )
        # Every writer converges on what is stored.
        clients = [slot.client for slot in slots]
        for path in files.names():
            readers = [c for c in clients if c.namespace.endswith(f"/{path}")]
            stored = ""
            for _ in range(100):
                stored = await api(
                    http, "GET", f"{base}/api/sessions/{session_id}/files/{path}", owner.token
                )
                if all(c.content() == stored for c in readers):
                    break
                await asyncio.sleep(0.1)
            else:
                report.client_errors.append(f"{path}: writers did not converge on the stored text")
        for client in clients:
            report.client_errors.extend(client.errors)
            await client.close()
    return report


def error_lines(log_path: Path) -> list[str]:
    """The server log's ERROR lines and tracebacks."""
    lines = log_path.read_text().splitlines()
    return [line for line in lines if " ERROR " in line or "Traceback" in line]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--sample-every", type=float, default=10.0)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--edits-per-second", type=float, default=4.0, help="per writer")
    parser.add_argument("--churn-every", type=float, default=2.0, help="seconds between joins")
    parser.add_argument("--deploy-every", type=float, default=30.0, help="with Docker")
    parser.add_argument(
        "--rotate-every",
        type=float,
        default=None,
        help="seconds between the writers' moves to new files (default: never)",
    )
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k.startswith("COLLAB_")}
    env.setdefault("COLLAB_SECRET_KEY", "soak-secret-key-that-is-long-enough-0123456789abcdef")
    # The load's people log in once: their access tokens must outlive the run (a real
    # client refreshes them; the soak measures the server, not the refresh).
    env.setdefault("COLLAB_ACCESS_TOKEN_TTL_SECONDS", str(min(int(args.minutes * 60) + 600, 86400)))
    docker = "COLLAB_DOCKER_HOST" in env
    with tempfile.TemporaryDirectory() as tmp, ServerProcess(Path(tmp) / "data", env) as server:
        assert server.proc is not None
        report = asyncio.run(
            soak(
                server.url,
                server.proc.pid,
                args.minutes * 60,
                sample_every=args.sample_every,
                writers=args.writers,
                edits_per_second=args.edits_per_second,
                churn_every=args.churn_every,
                deploy_every=args.deploy_every if docker else None,
                rotate_every=args.rotate_every,
            )
        )
        report.errors = error_lines(server.log_path)
    print(report.summary())
    for line in (report.errors + report.client_errors)[:20]:
        print("  ", line)
    return 1 if report.errors or report.client_errors else 0


if __name__ == "__main__":
    sys.exit(main())
