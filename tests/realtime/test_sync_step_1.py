"""A client's `sync-step-1` (its state vector; acknowledged with our diff) passed none of the
checks every other document message passes: no size cap, no message or byte budget, and
the state vector was scanned in pure Python on the event loop. One viewer sending 900 KB
state vectors held the whole server's loop for about a quarter of a second each, back to
back, stalling every other document's edits."""

from __future__ import annotations

import asyncio
import time

from tests.documents.typing_support import LoopLag
from tests.live_support import LiveSession
from tests.realtime.test_fast_path_hostile import RawSocket, until
from tests.support import Client
from tests.yjs_fuzz import var_uint


def state_vector(clients: int) -> bytes:
    return var_uint(clients) + b"".join(var_uint(c + 1) + b"\x05" for c in range(clients))


def ack_header(namespace: str, ack: int) -> str:
    return f'451-{namespace},{ack}["sync-step-1",{{"_placeholder":true,"num":0}}]'


def acks(raw: RawSocket, namespace: str) -> int:
    return sum(1 for t in raw.texts if t.startswith((f"461-{namespace},", f"43{namespace},")))


async def test_big_state_vectors_neither_hold_the_loop_nor_escape_the_budgets(
    client: Client, live: LiveSession
) -> None:
    namespace = f"/yjs|{live.room()}"
    big = state_vector(230_000)  # about 900 KB: under the message size cap
    assert 800_000 < len(big) < 1024 * 1024
    raw = await RawSocket.open(client)
    try:
        await raw.connect(namespace, live.viewer.token)
        async with LoopLag() as lag:
            start = time.perf_counter()
            for ack in range(1, 7):
                await raw.ws.send_str(ack_header(namespace, ack))
                await raw.ws.send_bytes(big)
            await until(lambda: acks(raw, namespace) >= 6, timeout=60)
            held = lag.max_cpu_between(start, time.perf_counter())
        assert held < 0.1, f"the loop was held {held:.3f} s at once"
        # Over the byte budget (2 MB at once): refused, and said so.
        codes = [t for t in raw.errors(namespace) if '"rate_limited"' in t]
        assert codes, raw.errors(namespace)
        # Over the size cap: refused without being read.
        await raw.ws.send_str(ack_header(namespace, 7))
        await raw.ws.send_bytes(state_vector(300_000))
        await until(lambda: acks(raw, namespace) >= 7, timeout=10)
        assert any('"too_large"' in t for t in raw.errors(namespace))
        # A small one, once the budget has refilled, still gets its diff.
        await asyncio.sleep(1.0)
        await raw.ws.send_str(f'42{namespace},8["sync-step-1",0]')
        await until(lambda: acks(raw, namespace) >= 8, timeout=10)
    finally:
        await raw.close()
