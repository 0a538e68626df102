"""The shared terminal on `/`: one shell in a running deployment, watched by the session.

Events (acks are `{ok: true, ...}` or `{ok: false, error: {code, message, details?}}`):
- `terminal:open {deployment_id, cols?, rows?}` → `{ok, terminal_id}`: editors and owners
  whose socket joined the deployment's session; viewers get `forbidden`.
- `terminal:input {terminal_id, data}`, `terminal:resize {terminal_id, cols, rows}`,
  `terminal:close {terminal_id}`: the same people.
- `terminal:list {session_id}` → `{ok, terminals: [...]}`: anyone who joined the session.
- Sent to the session's room: `terminal:opened {terminal_id, deployment_id, session_id,
  opened_by, cols, rows}`, `terminal:output {terminal_id, data}`, `terminal:resized
  {terminal_id, cols, rows}`, `terminal:closed {terminal_id, deployment_id, reason}`.

A terminal lives on the process that opened it (its shell is a socket of that process).
Every process knows every terminal from Redis (a hash per terminal, kept alive by its
holder, and a set per deployment and per session); input, resize and close that arrive on
another process are relayed to the holder over `CHANNEL`. Output reaches the sockets of
every process through the Socket.IO Redis manager.

Access is checked on every message (cached `ROLE_TTL` seconds): a socket that left the
session, was removed or demoted stops typing within that time. The terminal itself stays
for the others; it closes on `terminal:close`, when its shell exits, when the deployment
stops (its container goes, and with it the shell), after `idle_seconds` without input,
and when this process stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import socketio
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from collab.model import SessionRole
from collab.realtime.presence import room_of
from containers.terminal import ShellHandle, ShellRefused, Terminal
from kernel.audit import AuditEntry, AuditLog
from kernel.context import Actor, ClientInfo
from kernel.errors import ServiceError

log = logging.getLogger(__name__)

CHANNEL = "collab:terminals"
_KEY = "collab:terminal:"
_OF_DEPLOYMENT = "collab:terminals:deployment:"
_OF_SESSION = "collab:terminals:session:"
# A holder refreshes its terminals' keys; a crashed holder's terminals vanish after this.
_ALIVE_SECONDS = 90
_REFRESH_SECONDS = 30
ROLE_TTL = 2.0

# Reserve a place among a deployment's terminals, atomically: count the live ones (whose
# key still exists), forget the dead, add this one with its record if below the limit.
_RESERVE = """
local live = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. id) == 1 then live = live + 1
  else redis.call('SREM', KEYS[1], id) end
end
if live >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[3], unpack(ARGV, 5))
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[4]))
return 1
"""

# A deployment row (`Deployments.get`, NotFound when there is none).
DeploymentOf = Callable[[uuid.UUID], Awaitable[asyncpg.Record]]
# BLOCKING: a shell in that container (handle), named by a marker; cols, rows.
OpenShell = Callable[[str, str, int, int], ShellHandle]
# The role a socket acts with (read-only API keys are viewers).
CapRole = Callable[[str, SessionRole], SessionRole]
# Raises ServiceError unless the user holds at least that role in the session.
Authorize = Callable[[Actor, uuid.UUID, SessionRole], Awaitable[SessionRole]]


@dataclass(frozen=True)
class TerminalLimits:
    per_deployment: int = 3
    input_bytes: int = 4096
    # Per socket, a token bucket each: messages and bytes a second, and the bursts.
    messages_per_second: float = 50
    message_burst: float = 200
    bytes_per_second: float = 32 * 1024
    byte_burst: float = 64 * 1024
    idle_seconds: float = 30 * 60
    max_cols: int = 500
    max_rows: int = 200


class _Bucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.level, self.at = rate, burst, burst, time.monotonic()

    def take(self, amount: float) -> float:
        """0 when taken; otherwise seconds until it could be."""
        now = time.monotonic()
        self.level = min(self.burst, self.level + (now - self.at) * self.rate)
        self.at = now
        if amount <= self.level:
            self.level -= amount
            return 0.0
        return (amount - self.level) / self.rate


def _error(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"ok": False, "error": error}


class _Refused(Exception):
    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.answer = _error(code, message, details)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _uuid(data: Any, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(data[field]))
    except (TypeError, KeyError, ValueError):
        raise _Refused("validation_failed", f"Send {{{field}: <uuid>}}.") from None


class TerminalEvents:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        redis: Redis,
        pool: asyncpg.Pool,
        deployment_of: DeploymentOf,
        open_shell: OpenShell | None,
        authorize: Authorize,
        cap_role: CapRole,
        limits: TerminalLimits = TerminalLimits(),
        client_of: Callable[[web.Request], ClientInfo] | None = None,
    ) -> None:
        self.sio = sio
        # Who is at the other end, as REST reads it (trusted proxies, a storable user agent).
        self._client_of = client_of
        self._redis = redis
        self._pool = pool
        self._deployment_of = deployment_of
        self._open_shell = open_shell
        self._authorize = authorize
        self._cap_role = cap_role
        self._limits = limits
        self._audit = AuditLog()
        self._process = uuid.uuid4().hex
        self._local: dict[str, tuple[Terminal, uuid.UUID, uuid.UUID]] = {}
        self._roles: dict[tuple[str, uuid.UUID], tuple[float, _Refused | None]] = {}
        self._buckets: dict[str, tuple[_Bucket, _Bucket]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        for event, handler in (
            ("terminal:open", self._open),
            ("terminal:input", self._input),
            ("terminal:resize", self._resize),
            ("terminal:close", self._close),
            ("terminal:list", self._list),
        ):
            sio.on(event, self._answering(handler))

    @staticmethod
    def _answering(
        handler: Callable[[str, Any], Awaitable[dict[str, Any]]],
    ) -> Callable[..., Awaitable[dict[str, Any]]]:
        async def answer(sid: str, data: Any = None, *_extra: Any) -> dict[str, Any]:
            # Values beyond the first (a client may send any number) are ignored.
            try:
                return await handler(sid, data)
            except _Refused as refused:
                return refused.answer
            except ServiceError as exc:
                return _error(exc.code, exc.message, exc.details)

        return answer

    # -- lifetime ----------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._listen(), name="terminals:relay"),
            loop.create_task(self._keep_alive(), name="terminals:alive"),
        ]

    async def stop(self) -> None:
        self._stopping.set()
        for terminal, _, _ in list(self._local.values()):
            await terminal.close("server stopping")
        for terminal, _, _ in list(self._local.values()):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(terminal.wait(), timeout=5)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=5)

    def forget_socket(self, sid: str) -> None:
        """A socket went away: drop what this layer kept of it."""
        self._buckets.pop(sid, None)
        for key in [k for k in self._roles if k[0] == sid]:
            del self._roles[key]

    # -- who may -------------------------------------------------------------------------------

    async def _user(self, sid: str) -> uuid.UUID:
        session = await self.sio.get_session(sid)
        user_id = session.get("user_id")
        if not isinstance(user_id, uuid.UUID):
            raise _Refused("unauthorized", "Log in again.")
        return user_id

    def _client(self, sid: str) -> ClientInfo:
        environ = self.sio.get_environ(sid) or {}
        request = environ.get("aiohttp.request")
        if self._client_of is not None and isinstance(request, web.Request):
            return self._client_of(request)
        return ClientInfo(environ.get("REMOTE_ADDR"), None)

    async def _may_type(self, sid: str, session_id: uuid.UUID) -> uuid.UUID:
        """The socket's user, when it joined the session and is an editor or owner there."""
        user_id = await self._user(sid)
        cached = self._roles.get((sid, session_id))
        if cached is not None and time.monotonic() - cached[0] < ROLE_TTL:
            if cached[1] is not None:
                raise cached[1]
            return user_id
        refused: _Refused | None = None
        if room_of(session_id) not in self.sio.rooms(sid):
            # Not a word about what exists in a session this socket did not join.
            refused = _Refused("not_found", "Join the deployment's session first.")
        else:
            try:
                role = await self._authorize(
                    Actor(user_id, self._client(sid)), session_id, SessionRole.VIEWER
                )
            except ServiceError as exc:
                refused = _Refused(exc.code, exc.message)
            else:
                if self._cap_role(sid, role).rank < SessionRole.EDITOR.rank:
                    refused = _Refused("forbidden", "Only editors and owners can use the terminal.")
        self._roles[(sid, session_id)] = (time.monotonic(), refused)
        if refused is not None:
            raise refused
        return user_id

    def _limit(self, sid: str, size: int) -> None:
        if size > self._limits.input_bytes:
            raise _Refused(
                "too_large",
                f"Send at most {self._limits.input_bytes} bytes of input a message.",
                {"limit": self._limits.input_bytes},
            )
        messages, data = self._buckets.setdefault(
            sid,
            (
                _Bucket(self._limits.messages_per_second, self._limits.message_burst),
                _Bucket(self._limits.bytes_per_second, self._limits.byte_burst),
            ),
        )
        wait = max(messages.take(1), data.take(size))
        if wait > 0:
            raise _Refused(
                "rate_limited",
                "Too much input at once: wait a moment and type again.",
                {"retry_after": round(wait, 2)},
            )

    def _size(self, data: Any) -> tuple[int, int]:
        try:
            cols, rows = int(data["cols"]), int(data["rows"])
        except (TypeError, KeyError, ValueError):
            raise _Refused("validation_failed", "Send {cols, rows} as whole numbers.") from None
        if not (0 < cols <= self._limits.max_cols and 0 < rows <= self._limits.max_rows):
            raise _Refused(
                "validation_failed",
                f"cols must be 1..{self._limits.max_cols} and rows 1..{self._limits.max_rows}.",
            )
        return cols, rows

    async def _record(self, terminal_id: str) -> dict[str, str]:
        raw = await self._redis.hgetall(_KEY + terminal_id)
        record = {_text(k): _text(v) for k, v in raw.items()}
        if not record:
            raise _Refused("not_found", "No such terminal: it was closed.")
        return record

    async def _terminal(self, sid: str, data: Any) -> tuple[str, dict[str, str], uuid.UUID]:
        """(terminal id, its record, the user) for an editor of its session."""
        terminal_id = str(_uuid(data, "terminal_id"))
        record = await self._record(terminal_id)
        user_id = await self._may_type(sid, uuid.UUID(record["session_id"]))
        return terminal_id, record, user_id

    # -- the events ----------------------------------------------------------------------------

    async def _open(self, sid: str, data: Any) -> dict[str, Any]:
        deployment_id = _uuid(data, "deployment_id")
        cols, rows = (80, 24)
        if isinstance(data, dict) and ("cols" in data or "rows" in data):
            cols, rows = self._size(data)
        row = await self._deployment_of(deployment_id)
        session_id = row["session_id"]
        user_id = await self._may_type(sid, session_id)
        if row["status"] != "running" or not row["container_id"]:
            raise _Refused(
                "conflict", f"The deployment is {row['status']}: only a running one has a terminal."
            )
        if self._open_shell is None:
            raise _Refused("unavailable", "Deployments need a Docker Engine.")
        terminal_id = str(uuid.uuid4())
        record = {
            "terminal_id": terminal_id,
            "deployment_id": str(deployment_id),
            "session_id": str(session_id),
            "opened_by": str(user_id),
            "process": self._process,
            "cols": str(cols),
            "rows": str(rows),
        }
        fields = [part for pair in record.items() for part in pair]
        reserved = await self._redis.eval(
            _RESERVE,
            3,
            _OF_DEPLOYMENT + str(deployment_id),
            _OF_SESSION + str(session_id),
            _KEY + terminal_id,
            _KEY,
            str(self._limits.per_deployment),
            terminal_id,
            str(_ALIVE_SECONDS),
            *fields,
        )
        if not reserved:
            raise _Refused(
                "rate_limited",
                f"A deployment has at most {self._limits.per_deployment} terminals: "
                "close one first.",
                {"limit": self._limits.per_deployment},
            )
        loop = asyncio.get_running_loop()
        try:
            shell = await loop.run_in_executor(
                None, self._open_shell, row["container_id"], terminal_id, cols, rows
            )
        except BaseException as exc:
            await self._unregister(terminal_id, record)
            if isinstance(exc, ShellRefused):
                raise _Refused("conflict", f"No terminal: {exc}.") from None
            if isinstance(exc, Exception):
                log.warning("terminal for %s not opened: %r", deployment_id, exc)
                raise _Refused("unavailable", "The Docker Engine does not answer.") from None
            raise
        await self._audit.record(
            self._pool,
            AuditEntry("terminal.opened", user_id, None, "terminal", terminal_id),
            self._client(sid),
            metadata={"deployment_id": str(deployment_id), "session_id": str(session_id)},
        )
        terminal = self._run(terminal_id, shell, record)
        await self.sio.emit("terminal:opened", self._public(record), room=room_of(session_id))
        terminal.start()  # after `terminal:opened`, so its first output follows it
        return {"ok": True, "terminal_id": terminal_id}

    def _run(self, terminal_id: str, shell: ShellHandle, record: dict[str, str]) -> Terminal:
        session_id = uuid.UUID(record["session_id"])
        deployment_id = uuid.UUID(record["deployment_id"])
        room = room_of(session_id)

        async def output(text: str) -> None:
            await self.sio.emit(
                "terminal:output", {"terminal_id": terminal_id, "data": text}, room=room
            )

        async def ended(reason: str) -> None:
            self._local.pop(terminal_id, None)
            await self._unregister(terminal_id, record)
            if reason == "exited" and not await self._running(deployment_id):
                reason = "deployment stopped"
            await self.sio.emit(
                "terminal:closed",
                {
                    "terminal_id": terminal_id,
                    "deployment_id": str(deployment_id),
                    "reason": reason,
                },
                room=room,
            )

        terminal = Terminal(terminal_id, shell, output, ended)
        self._local[terminal_id] = (terminal, session_id, deployment_id)
        return terminal

    async def _running(self, deployment_id: uuid.UUID) -> bool:
        try:
            return bool((await self._deployment_of(deployment_id))["status"] == "running")
        except ServiceError:
            return False

    @staticmethod
    def _public(record: dict[str, str]) -> dict[str, Any]:
        return {
            "terminal_id": record["terminal_id"],
            "deployment_id": record["deployment_id"],
            "session_id": record["session_id"],
            "opened_by": record["opened_by"],
            "cols": int(record["cols"]),
            "rows": int(record["rows"]),
        }

    async def _unregister(self, terminal_id: str, record: dict[str, str]) -> None:
        with contextlib.suppress(RedisError, OSError):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(_KEY + terminal_id)
                pipe.srem(_OF_DEPLOYMENT + record["deployment_id"], terminal_id)
                pipe.srem(_OF_SESSION + record["session_id"], terminal_id)
                await pipe.execute()

    async def _input(self, sid: str, data: Any) -> dict[str, Any]:
        text = data.get("data") if isinstance(data, dict) else None
        if not isinstance(text, str):
            raise _Refused("validation_failed", "Send {terminal_id, data: <text>}.")
        try:
            payload = text.encode()
        except UnicodeEncodeError:  # a lone surrogate, escaped in the JSON (`"\\ud800"`)
            raise _Refused("validation_failed", "Send the input as Unicode text.") from None
        terminal_id, record, _ = await self._terminal(sid, data)
        self._limit(sid, len(payload))
        await self._deliver(terminal_id, record, {"op": "input", "data": text})
        return {"ok": True}

    async def _resize(self, sid: str, data: Any) -> dict[str, Any]:
        terminal_id, record, _ = await self._terminal(sid, data)
        cols, rows = self._size(data)
        self._limit(sid, 0)
        await self._deliver(terminal_id, record, {"op": "resize", "cols": cols, "rows": rows})
        return {"ok": True}

    async def _close(self, sid: str, data: Any) -> dict[str, Any]:
        terminal_id, record, _ = await self._terminal(sid, data)
        await self._deliver(terminal_id, record, {"op": "close", "reason": "closed"})
        return {"ok": True}

    async def _list(self, sid: str, data: Any) -> dict[str, Any]:
        session_id = _uuid(data, "session_id")
        if room_of(session_id) not in self.sio.rooms(sid):
            raise _Refused("not_found", "Join the session first.")
        members = await self._redis.smembers(_OF_SESSION + str(session_id))
        ids = sorted(_text(m) for m in members)
        terminals = []
        for terminal_id in ids:
            with contextlib.suppress(_Refused):
                terminals.append(self._public(await self._record(terminal_id)))
        return {"ok": True, "terminals": terminals}

    # -- reaching the holder -----------------------------------------------------------------

    async def _deliver(self, terminal_id: str, record: dict[str, str], op: dict[str, Any]) -> None:
        if terminal_id in self._local:
            await self._apply(terminal_id, op)
        else:
            message = {"process": record["process"], "terminal_id": terminal_id, **op}
            await self._redis.publish(CHANNEL, json.dumps(message))

    async def _apply(self, terminal_id: str, op: dict[str, Any]) -> None:
        entry = self._local.get(terminal_id)
        if entry is None:
            return
        terminal, session_id, _ = entry
        kind = op.get("op")
        if kind == "input":
            await terminal.write(str(op["data"]).encode())
        elif kind == "resize":
            cols, rows = int(op["cols"]), int(op["rows"])
            await terminal.resize(cols, rows)
            with contextlib.suppress(RedisError, OSError):
                await self._redis.hset(
                    _KEY + terminal_id, mapping={"cols": str(cols), "rows": str(rows)}
                )
            await self.sio.emit(
                "terminal:resized",
                {"terminal_id": terminal_id, "cols": cols, "rows": rows},
                room=room_of(session_id),
            )
        elif kind == "close":
            await terminal.close(str(op.get("reason") or "closed"))

    async def _listen(self) -> None:
        while not self._stopping.is_set():
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    while not self._stopping.is_set():
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=1.0
                        )
                        if message is None:
                            continue
                        try:
                            op = json.loads(message["data"])
                            if op.get("process") == self._process:
                                await self._apply(str(op["terminal_id"]), op)
                        except (ValueError, KeyError, TypeError):
                            log.warning("ignoring a malformed terminal message")
                        except Exception:
                            log.exception("a relayed terminal message failed")
            except (RedisError, OSError) as exc:
                log.warning("terminal relay lost Redis (%s); retrying", exc)
                await asyncio.sleep(1)

    async def _keep_alive(self) -> None:
        """Keep this process's terminals known; close those idle too long."""
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=_REFRESH_SECONDS)
            now = time.monotonic()
            for terminal_id, (terminal, _, _) in list(self._local.items()):
                if now - terminal.last_input > self._limits.idle_seconds:
                    await terminal.close("idle")
                    continue
                with contextlib.suppress(RedisError, OSError):
                    await self._redis.expire(_KEY + terminal_id, _ALIVE_SECONDS)
            for sid in {sid for sid, _ in self._roles} | set(self._buckets):
                if not self.sio.manager.is_connected(sid, "/"):
                    self.forget_socket(sid)
