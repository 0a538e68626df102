"""The Python side of `tests/js/agent.mjs`: real npm Yjs clients, driven from tests."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
from pathlib import Path
from typing import Any

JS = Path(__file__).resolve().parent / "js"


class NodeError(RuntimeError):
    pass


def node_available() -> str | None:
    """Why the Node clients cannot run, or None when they can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (JS / "node_modules" / "y-socket.io").exists():
        return "tests/js/node_modules is missing; run `npm ci` in tests/js (scripts/test does)"
    return None


class NodeAgent:
    def __init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None
        self._ids = itertools.count()
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> NodeAgent:
        self._proc = await asyncio.create_subprocess_exec(
            "node",
            str(JS / "agent.mjs"),
            cwd=JS,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=64 * 1024 * 1024,
        )
        self._reader = asyncio.get_running_loop().create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        async for line in self._proc.stdout:
            message = json.loads(line)
            future = self._waiting.pop(message["id"], None)
            if future is None or future.done():
                continue
            if "error" in message:
                future.set_exception(NodeError(message["error"]))
            else:
                future.set_result(message.get("result"))
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(NodeError("the node agent exited"))

    async def call(self, cmd: str, **args: Any) -> Any:
        assert self._proc is not None and self._proc.stdin is not None
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        self._proc.stdin.write((json.dumps({"id": request_id, "cmd": cmd, **args}) + "\n").encode())
        await self._proc.stdin.drain()
        return await asyncio.wait_for(future, timeout=60)

    async def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            await asyncio.wait_for(self._proc.wait(), timeout=5)
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()
        if self._reader is not None:
            await self._reader
