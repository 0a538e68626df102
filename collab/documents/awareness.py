"""The Yjs awareness wire format (y-protocols), without I/O.

An awareness update is varUint(n) then n times: varUint(clientID), varUint(clock),
varString(JSON state). A state of `null` removes the client. The server only needs to know
which client ids a socket announced (to remove them when it goes) and to build that
removal.
"""

from __future__ import annotations

from dataclasses import dataclass


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


def decode(update: bytes) -> list[AwarenessEntry]:
    count, pos = _read_var_uint(update, 0)
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
