"""`collab serve`, `collab migrate up|down [N]|status`, `collab users deactivate|activate EMAIL`,
`collab users grant-admin|revoke-admin EMAIL`, `collab users purge-deleted`,
`collab runtimes list|build [NAME...]`.

Flags override the environment (`COLLAB_HOST`, `COLLAB_PORT`, `COLLAB_DATA_DIR`, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import difflib
import gc
import logging
import os
import sys
import threading
from collections.abc import Iterator, Sequence

import asyncpg
import redis.exceptions
from aiohttp import web
from pydantic import ValidationError

from auth.admins import set_admin
from collab.app import build_app
from collab.db import CONNECT_TIMEOUT, DatabaseUnreachable
from collab.embedded import EmbeddedPostgres, EmbeddedServiceError
from collab.http.errors import BODY_IDLE_TIMEOUT
from collab.lifecycle_wiring import LIFECYCLE
from collab.log import configure_logging
from collab.migrate import MigrationError, Migrator
from collab.signing_keys import InsecureConfiguration
from collab.state import ACCOUNTS, DB_POOL
from config import Settings, load_settings
from config.runtimes import CATALOGUE, CatalogueError, load_runtimes
from containers.engine import Containers, DockerEngine, DockerUnavailable
from containers.images import ImageBuildError
from kernel.context import ClientInfo

log = logging.getLogger("collab")

CLI_CLIENT = ClientInfo(None, "collab-cli")


def _count(text: str) -> int:
    """A whole number of at least 1 (`migrate down -1` once reverted all but the first)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="collab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP and Socket.IO server")
    serve.add_argument("--host", help="interface to listen on (COLLAB_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (COLLAB_PORT, 8000)")
    serve.add_argument("--data-dir", help="where embedded data lives (COLLAB_DATA_DIR)")

    migrate = commands.add_parser("migrate", help="apply, revert or list schema migrations")
    migrate.add_argument("--data-dir", help="where embedded data lives (COLLAB_DATA_DIR)")
    steps = migrate.add_subparsers(dest="direction", required=True)
    up = steps.add_parser("up", help="apply pending migrations")
    up.add_argument("target", nargs="?", type=_count, help="stop after this version")
    down = steps.add_parser("down", help="revert the newest N migrations (default 1)")
    down.add_argument("steps", nargs="?", type=_count, default=1)
    steps.add_parser("status", help="list migrations and whether each is applied")

    runtimes = commands.add_parser("runtimes", help="the deployment runtime catalogue")
    runtimes.add_argument("action", choices=["list", "build"])
    runtimes.add_argument("names", nargs="*", help="runtimes to build (default: all)")

    users = commands.add_parser("users", help="operator actions on accounts")
    users.add_argument("--data-dir", help="where embedded data lives (COLLAB_DATA_DIR)")
    users.add_argument(
        "action",
        choices=["deactivate", "activate", "grant-admin", "revoke-admin", "purge-deleted"],
    )
    users.add_argument("email", nargs="?", help="the account's email address")
    return parser


@contextlib.contextmanager
def _database_url(settings: Settings) -> Iterator[str]:
    if settings.database_url is not None:
        yield settings.database_url.get_secret_value()
        return
    postgres = EmbeddedPostgres(settings.data_dir)
    try:
        yield postgres.start()
    finally:
        postgres.stop()


async def _migrate(dsn: str, args: argparse.Namespace) -> None:
    try:
        conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise DatabaseUnreachable(f"PostgreSQL does not answer: {exc}") from exc
    try:
        migrator = Migrator(conn)
        if args.direction == "up":
            for m in await migrator.up(args.target):
                print(f"applied  {m.version:04d}_{m.name}")
        elif args.direction == "down":
            for m in await migrator.down(args.steps):
                print(f"reverted {m.version:04d}_{m.name}")
        else:
            for status in await migrator.status():
                when = status.applied_at.isoformat() if status.applied_at else "pending"
                print(f"{status.version:04d}_{status.name:<40} {when}")
    finally:
        await conn.close()


async def _set_active(settings: Settings, args: argparse.Namespace) -> int:
    """Run the real services (not raw SQL) so sessions end and sockets close everywhere."""
    app = build_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()  # runs the cleanup contexts' start-up: pools, services
    try:
        if args.action == "purge-deleted":
            purged = await app[LIFECYCLE].purge()
            print(f"purged {len(purged)} deleted account(s) past their grace period")
            return 0
        if not args.email:
            print(f"collab: users {args.action} needs an EMAIL", file=sys.stderr)
            return 2
        if args.action in ("grant-admin", "revoke-admin"):
            grant = args.action == "grant-admin"
            if not await set_admin(app[DB_POOL], args.email, grant, CLI_CLIENT):
                print(f"collab: no account with email {args.email}", file=sys.stderr)
                return 1
            print(f"{args.email}: {'platform admin' if grant else 'no longer a platform admin'}")
            return 0
        user = await app[ACCOUNTS].find_by_email(args.email)
        if user is None:
            print(f"collab: no account with email {args.email}", file=sys.stderr)
            return 1
        active = args.action == "activate"
        await app[ACCOUNTS].set_active(user.user_id, active, CLI_CLIENT)
        print(f"{args.email}: {'active' if active else 'deactivated; every session ended'}")
        return 0
    finally:
        await runner.cleanup()


async def _runtimes(settings: Settings, args: argparse.Namespace) -> int:
    catalogue = load_runtimes(settings.runtimes_file or CATALOGUE)
    if args.action == "list":
        for runtime in catalogue.values():
            print(f"{runtime.name:<12} {runtime.image:<32} port {runtime.port}")
        return 0
    unknown = [name for name in args.names if name not in catalogue]
    if unknown:
        print(f"collab: unknown runtimes {unknown}; known: {sorted(catalogue)}", file=sys.stderr)
        return 2
    engine = DockerEngine(settings.docker_host or "unix:///var/run/docker.sock", timeout=300)
    containers = Containers(engine)
    try:
        for name in args.names or list(catalogue):
            image_id = await containers.build(catalogue[name])
            print(f"built {catalogue[name].image} ({image_id[:12]})")
    except (DockerUnavailable, ImageBuildError) as exc:
        print(f"collab: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.close()
    return 0


class _Watchdog:
    """Bounds the drain: started at SIGTERM/SIGINT, it ends the process (exit 1, logged)
    if shutting down takes longer than COLLAB_SHUTDOWN_TIMEOUT_SECONDS. A thread, so that
    it fires even when the event loop is stuck."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._timer: threading.Timer | None = None

    async def on_shutdown(self, app: web.Application) -> None:
        log.info("draining (at most %.0f s)", self.seconds)
        self._timer = threading.Timer(self.seconds, self._overrun)
        self._timer.daemon = True
        self._timer.start()

    def _overrun(self) -> None:
        log.error("shutdown took longer than %.0f s; exiting now", self.seconds)
        logging.shutdown()
        os._exit(1)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


async def _freeze_heap(app: web.Application) -> None:
    """What start-up built lives as long as the process: take it out of the collector's
    generations, so full collections stop walking it (at N=200 a full collection while
    serving went from 78 to 29 ms; docs/performance.md, "Third round")."""
    gc.collect()
    gc.freeze()


def _serve(settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT, then drain: the listener closes (a load balancer
    sends new connections elsewhere), every Socket.IO connection is ended so its client
    reconnects to another process (`collab.app._drain`), in-flight requests get a share of
    the timeout, then the cleanup chain commits queued document updates and closes pools."""
    app = build_app(settings)
    # A request body that stops arriving is ended as a connection that sends nothing is.
    app[BODY_IDLE_TIMEOUT] = settings.idle_connection_timeout_seconds
    timeout = settings.shutdown_timeout_seconds
    watchdog = _Watchdog(timeout)
    app.on_shutdown.insert(0, watchdog.on_shutdown)
    app.on_startup.append(_freeze_heap)  # last: after every start-up hook
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    log.info("collab serving on %s (data in %s)", settings.base_url, settings.data_dir.resolve())
    try:
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            print=None,
            access_log=None,
            # In-flight requests get a quarter (the drain has had up to half); aiohttp may
            # wait twice this (graceful, then cancelled), still within the watchdog's bound.
            shutdown_timeout=timeout / 4,
            # Half-open connections and slow headers are closed after this, as idle ones.
            keepalive_timeout=settings.idle_connection_timeout_seconds,
        )
    finally:
        watchdog.cancel()
    log.info("collab stopped")


def _configuration_errors(exc: ValidationError) -> str:
    """Each problem under the variable the operator set (`COLLAB_PORT`, not `port`)."""
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        name = f"COLLAB_{field.upper()}" if field else "configuration"
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"  {name}: {message}")
    return "\n".join(lines)


def _unknown_variables() -> list[str]:
    """A warning per COLLAB_* variable that is no setting (a typo in COLLAB_DATABASE_URL
    would otherwise start the server on an empty embedded database without a word)."""
    known = {f"COLLAB_{name.upper()}" for name in Settings.model_fields}
    warnings = []
    for name in sorted(os.environ):
        if not name.startswith("COLLAB_") or name in known or name.startswith("COLLAB_TEST_"):
            continue
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        warnings.append(f"collab: warning: {name} is not a setting and is ignored{hint}")
    return warnings


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for warning in _unknown_variables():
        print(warning, file=sys.stderr)
    try:
        overrides = {"data_dir": getattr(args, "data_dir", None)}
        if args.command == "serve":
            overrides |= {"host": args.host, "port": args.port}
        settings = load_settings(**overrides)
    except ValidationError as exc:
        print(f"collab: invalid configuration:\n{_configuration_errors(exc)}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    try:
        if args.command == "serve":
            _serve(settings)
        elif args.command == "users":
            return asyncio.run(_set_active(settings, args))
        elif args.command == "runtimes":
            return asyncio.run(_runtimes(settings, args))
        else:
            with _database_url(settings) as dsn:
                asyncio.run(_migrate(dsn, args))
    except InsecureConfiguration as exc:
        print(f"collab: refusing to start: {exc}", file=sys.stderr)
        return 2
    except (EmbeddedServiceError, MigrationError, CatalogueError) as exc:
        print(f"collab: {exc}", file=sys.stderr)
        return 1
    except asyncpg.ClientConfigurationError as exc:
        print(f"collab: COLLAB_DATABASE_URL is not usable: {exc}", file=sys.stderr)
        return 2
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        # PostgreSQL down, refusing the login, or the listener's port taken.
        message = str(exc) or type(exc).__name__
        if isinstance(exc, asyncpg.PostgresError):
            message = f"PostgreSQL refused: {message}"
        elif not isinstance(exc, DatabaseUnreachable):
            message = f"{type(exc).__name__}: {message}"
        print(f"collab: {message}", file=sys.stderr)
        return 1
    except redis.exceptions.RedisError as exc:
        print(f"collab: Redis: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
