"""The Yjs awareness wire format (y-protocols), without I/O.

An awareness update is varUint(n) then n times: varUint(clientID), varUint(clock),
varString(JSON state). A state of `null` removes the client. The server needs to know
which client ids a socket announced (to remove them when it goes) and to build that
removal.

States come from clients and go to every other client, whose code trusts them (the npm
`y-socket.io` client crashes on a state that is not JSON), so each state must be a JSON
object (or `null`) of at most MAX_STATE_BYTES, and the server stamps who sent it: `user.id`
and `user.name` (the sender's username) replace whatever the client wrote there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_STATE_BYTES = 16 * 1024


class MalformedAwareness(ValueError):
    pass


@dataclass(frozen=True)
class AwarenessEntry:
    client_id: int
    clock: int
    state: str  # the JSON text; "null" means the client left


def _read_var_uint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data):
            raise MalformedAwareness("truncated varUint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise MalformedAwareness("varUint too long")


def _write_var_uint(value: int, out: bytearray) -> None:
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)


def decode(update: bytes, max_entries: int | None = None) -> list[AwarenessEntry]:
    """The update's entries; more than `max_entries` are refused before any is read (each
    costs microseconds of Python: a megabyte of tiny ones held the event loop 0.4 s)."""
    count, pos = _read_var_uint(update, 0)
    if max_entries is not None and count > max_entries:
        raise MalformedAwareness("more clients than this document has")
    entries = []
    for _ in range(count):
        client_id, pos = _read_var_uint(update, pos)
        clock, pos = _read_var_uint(update, pos)
        length, pos = _read_var_uint(update, pos)
        if pos + length > len(update):
            raise MalformedAwareness("truncated state")
        try:
            state = update[pos : pos + length].decode()
        except UnicodeDecodeError:
            raise MalformedAwareness("state is not UTF-8") from None
        pos += length
        entries.append(AwarenessEntry(client_id, clock, state))
    if pos != len(update):
        raise MalformedAwareness("trailing bytes")
    return entries


def encode(entries: list[AwarenessEntry]) -> bytes:
    out = bytearray()
    _write_var_uint(len(entries), out)
    for entry in entries:
        _write_var_uint(entry.client_id, out)
        _write_var_uint(entry.clock, out)
        state = entry.state.encode()
        _write_var_uint(len(state), out)
        out += state
    return bytes(out)


def removal(clocks: dict[int, int]) -> bytes:
    """The update that tells every peer these clients are gone."""
    return encode([AwarenessEntry(cid, clock + 1, "null") for cid, clock in clocks.items()])


def parse_state(text: str) -> dict[str, Any] | None:
    """A client's state: a JSON object, or None for `null` (the client left)."""
    if len(text) > MAX_STATE_BYTES:  # characters ≤ bytes: a cheap first cut
        raise MalformedAwareness(f"awareness states are limited to {MAX_STATE_BYTES} bytes")
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except (ValueError, RecursionError):
        raise MalformedAwareness("an awareness state must be JSON") from None
    if value is not None and not isinstance(value, dict):
        raise MalformedAwareness("an awareness state must be a JSON object or null")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):  # 1e999: JSON.stringify would write null,
        raise ValueError("number out of range")  # json.dumps writes Infinity (not JSON)
    return value


def stamp(state: dict[str, Any], user_id: str, username: str) -> str:
    """The state as relayed: the server's word for who sent it replaces the client's."""
    user = state.get("user")
    user = dict(user) if isinstance(user, dict) else {}
    user.update(id=user_id, name=username)
    text = json.dumps({**state, "user": user}, separators=(",", ":"), allow_nan=False)
    if len(text) > MAX_STATE_BYTES:
        raise MalformedAwareness(f"awareness states are limited to {MAX_STATE_BYTES} bytes")
    return text


def stamped_user(text: str) -> str | None:
    """The user id a server stamped into a state (None when there is none)."""
    try:
        user = json.loads(text).get("user")
    except (ValueError, AttributeError):
        return None
    user_id = user.get("id") if isinstance(user, dict) else None
    return user_id if isinstance(user_id, str) else None
