"""The resync schedule (collab.realtime.resync): when a refused socket is asked for its
diff, and what its edits meanwhile become. End to end, with PostgreSQL stopped and crashed:
tests/faults/test_postgres_faults.py."""

from __future__ import annotations

import asyncio
import time

import pytest

from collab.realtime.resync import FIRST_DELAY, MAX_DELAY, MAX_STRIKES, Resyncs

pytestmark = pytest.mark.unit


class Asked:
    """Records when each socket was asked (the ask itself is a Socket.IO emit)."""

    def __init__(self, alive: bool = True) -> None:
        self.times: dict[str, list[float]] = {}
        self.alive = alive

    async def __call__(self, sid: str) -> bool:
        self.times.setdefault(sid, []).append(time.monotonic())
        return self.alive


async def test_a_refused_socket_is_asked_after_the_first_delay_and_waits_meanwhile() -> None:
    asked = Asked()
    resyncs = Resyncs(asked)
    start = time.monotonic()
    resyncs.refused("s")
    assert resyncs.pending("s") and resyncs.waiting("s")  # its edits are refused meanwhile
    await asyncio.sleep(FIRST_DELAY + 0.15)
    assert len(asked.times["s"]) == 1
    assert asked.times["s"][0] - start >= FIRST_DELAY
    # Asked: edits are covered by the answer, so they are no longer "waiting".
    assert resyncs.pending("s") and not resyncs.waiting("s")
    resyncs.answered("s")
    assert not resyncs.pending("s")
    await resyncs.close()


async def test_refused_again_waits_longer_until_an_edit_is_stored() -> None:
    asked = Asked()
    resyncs = Resyncs(asked)
    resyncs.refused("s")
    await asyncio.sleep(FIRST_DELAY + 0.1)
    resyncs.answered("s")
    resyncs.refused("s")  # the answer could not be stored either: storage is still down
    await asyncio.sleep(FIRST_DELAY + 0.1)
    assert len(asked.times["s"]) == 1, "the second ask came without a longer wait"
    await asyncio.sleep(2 * FIRST_DELAY)
    assert len(asked.times["s"]) == 2
    gap = asked.times["s"][1] - asked.times["s"][0]
    assert gap >= 2 * FIRST_DELAY
    await resyncs.close()


async def test_a_stored_edit_asks_every_waiting_socket_at_once() -> None:
    asked = Asked()
    resyncs = Resyncs(asked)
    resyncs.refused("slow")
    await asyncio.sleep(FIRST_DELAY + 0.1)
    resyncs.answered("slow")
    resyncs.refused("slow")  # its next ask is due after 2 x FIRST_DELAY
    await asyncio.sleep(FIRST_DELAY + 0.05)
    assert len(asked.times["slow"]) == 1
    resyncs.stored("other")  # storage answered someone else
    await asyncio.sleep(0.1)  # well before its own ask was due (at +0.2 s)
    assert len(asked.times["slow"]) == 2
    await resyncs.close()


async def test_a_socket_gone_or_forgotten_is_not_asked_again() -> None:
    asked = Asked(alive=False)
    resyncs = Resyncs(asked)
    resyncs.refused("gone")
    await asyncio.sleep(FIRST_DELAY + 0.1)
    assert not resyncs.pending("gone")  # the ask found no socket: nothing waits for it
    resyncs.refused("left")
    resyncs.forget("left")
    await asyncio.sleep(FIRST_DELAY + 0.1)
    assert "left" not in asked.times
    await resyncs.close()


async def test_an_answer_refused_otherwise_is_asked_again_a_few_times_only() -> None:
    asked = Asked()
    resyncs = Resyncs(asked)
    resyncs.refused("s")
    for strike in range(MAX_STRIKES):
        await asyncio.sleep(MAX_DELAY + 0.1)
        assert len(asked.times["s"]) == strike + 1
        assert resyncs.answered("s")
        resyncs.unusable("s")  # e.g. over its byte budget: asked again later
    assert not resyncs.pending("s")  # left to its reconnect
    await asyncio.sleep(MAX_DELAY + 0.1)
    assert len(asked.times["s"]) == MAX_STRIKES
    assert not resyncs.answered("s")  # a late answer is not one that was asked for
    await resyncs.close()
