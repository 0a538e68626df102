"""The runtime catalogue (`runtimes.toml` beside this file), read into typed records."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

CATALOGUE = Path(__file__).with_name("runtimes.toml")
_UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3}


class CatalogueError(ValueError):
    """The catalogue file is not valid; the message names the runtime and field."""


def _bytes(value: str) -> int:
    number, unit = value[:-1], value[-1].lower()
    if unit not in _UNITS or not number.isdigit():
        raise ValueError(f"{value!r} is not a size like 256m")
    return int(number) * _UNITS[unit]


@dataclass(frozen=True)
class Runtime:
    name: str
    image: str
    port: int
    command: tuple[str, ...]
    env: MappingProxyType[str, str]
    memory_bytes: int
    cpus: float
    pids: int
    read_only: bool
    user: str
    build: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))


def _runtime(name: str, raw: dict[str, Any]) -> Runtime:
    try:
        runtime = Runtime(
            name=name,
            image=str(raw["image"]),
            port=int(raw["port"]),
            command=tuple(str(part) for part in raw["command"]),
            env=MappingProxyType({str(k): str(v) for k, v in raw.get("env", {}).items()}),
            memory_bytes=_bytes(str(raw["memory"])),
            cpus=float(raw["cpus"]),
            pids=int(raw["pids"]),
            read_only=bool(raw.get("read_only", True)),
            user=str(raw.get("user", "")),
            build=MappingProxyType({str(k): str(v) for k, v in raw.get("build", {}).items()}),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogueError(f"runtime {name!r}: {exc}") from None
    if not 0 < runtime.port < 65536 or runtime.cpus <= 0 or runtime.pids < 1:
        raise CatalogueError(f"runtime {name!r}: port, cpus and pids must be positive")
    return runtime


def load_runtimes(path: Path = CATALOGUE) -> MappingProxyType[str, Runtime]:
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogueError(f"{path}: {exc}") from None
    return MappingProxyType({name: _runtime(name, spec) for name, spec in raw.items()})
