"""The resync schedule (collab.realtime.resync): when a refused socket is asked for its
diff, and what its edits meanwhile become. End to end, with PostgreSQL stopped and crashed:
tests/faults/test_postgres_faults.py; over a socket's budget:
tests/documents/test_rate_limited_resync.py."""

from __future__ import annotations

import asyncio
import time

import pytest

from collab.realtime.resync import (
    FIRST_DELAY,
    LIMITED_DELAY,
    MAX_DELAY,
    MAX_STRIKES,
    RATE_LIMITED,
    UNAVAILABLE,
    Resyncs,
)

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
    # Its edits are refused meanwhile, as storage's refusal.
    assert resyncs.pending("s") and resyncs.waiting("s") == UNAVAILABLE
    await asyncio.sleep(FIRST_DELAY + 0.15)
    assert len(asked.times["s"]) == 1
    assert asked.times["s"][0] - start >= FIRST_DELAY
    # Asked: edits are covered by the answer, so they are no longer "waiting".
    assert resyncs.pending("s") and not resyncs.waiting("s")
    assert resyncs.answered("s") == UNAVAILABLE
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


async def test_a_socket_given_up_on_is_not_asked_again_while_connected() -> None:
    """Every unanswered ask holds a callback in python-socketio until the disconnect: a
    client that never answers must not be asked again and again by refusing edits."""
    asked = Asked()
    resyncs = Resyncs(asked)
    resyncs.limited("s")
    for _ in range(MAX_STRIKES):
        while not asked.times.get("s") or resyncs.waiting("s"):
            await asyncio.sleep(0.05)
        assert resyncs.answered("s") == RATE_LIMITED
        resyncs.unusable("s", RATE_LIMITED)
    assert len(asked.times["s"]) == MAX_STRIKES
    assert resyncs.limited("s") is False  # not taken back: the refusal must not promise it
    resyncs.refused("s")
    assert not resyncs.pending("s")  # neither refusal asks it again
    resyncs.stored("s")  # one of its edits is stored: in step again
    resyncs.refused("s")
    assert resyncs.waiting("s") == UNAVAILABLE
    resyncs.forget("s")  # a new connection of the same sid (a reconnect) starts afresh
    assert resyncs.limited("s") is True
    assert resyncs.waiting("s") == RATE_LIMITED
    await resyncs.close()


async def test_a_socket_over_its_budget_is_asked_once_the_budget_refilled() -> None:
    asked = Asked()
    resyncs = Resyncs(asked)
    start = time.monotonic()
    resyncs.limited("s")
    assert resyncs.waiting("s") == RATE_LIMITED  # its edits meanwhile: rate_limited
    resyncs.limited("s")  # more refused edits do not move or repeat the ask
    resyncs.refused("s")  # nor does anything else while it waits
    assert resyncs.waiting("s") == RATE_LIMITED
    await asyncio.sleep(FIRST_DELAY + 0.1)
    # Others' edits stored: storage answers, but this socket waits for its own budget.
    resyncs.stored("other")
    await asyncio.sleep(0.1)
    assert "s" not in asked.times
    await asyncio.sleep(LIMITED_DELAY - FIRST_DELAY)
    assert len(asked.times["s"]) == 1
    assert asked.times["s"][0] - start >= LIMITED_DELAY
    assert resyncs.pending("s") and resyncs.waiting("s") is None  # edits now dropped quietly
    resyncs.limited("s")  # refused while asked: the answer carries it
    assert resyncs.waiting("s") is None
    assert resyncs.answered("s") == RATE_LIMITED
    assert not resyncs.pending("s")
    await asyncio.sleep(LIMITED_DELAY + 0.1)
    assert len(asked.times["s"]) == 1
    await resyncs.close()


async def test_an_answer_over_the_budget_is_asked_again_later_each_time() -> None:
    asked = Asked()
    resyncs = Resyncs(asked)
    resyncs.limited("s")
    await asyncio.sleep(LIMITED_DELAY + 0.1)
    assert resyncs.answered("s") == RATE_LIMITED
    resyncs.unusable("s", RATE_LIMITED)  # the answer was over the byte budget
    assert resyncs.waiting("s") == RATE_LIMITED
    await asyncio.sleep(LIMITED_DELAY + 0.1)
    assert len(asked.times["s"]) == 1, "asked again without a longer wait for the budget"
    await asyncio.sleep(LIMITED_DELAY)
    assert len(asked.times["s"]) == 2
    assert asked.times["s"][1] - asked.times["s"][0] >= 2 * LIMITED_DELAY
    # Stored at last: the next refusal over the budget starts from the first delay again.
    assert resyncs.answered("s")
    resyncs.stored("s")
    resyncs.limited("s")
    await asyncio.sleep(LIMITED_DELAY + 0.1)
    assert len(asked.times["s"]) == 3
    await resyncs.close()


async def test_an_answer_refused_otherwise_keeps_the_code_its_edits_are_refused_with() -> None:
    """A socket over its budget whose answer is refused for another reason (too large, say)
    is not told afterwards that storage refused its edits."""
    asked = Asked()
    resyncs = Resyncs(asked)
    resyncs.limited("s")
    await asyncio.sleep(LIMITED_DELAY + 0.1)
    code = resyncs.answered("s")
    assert code == RATE_LIMITED
    resyncs.unusable("s", code)
    assert resyncs.waiting("s") == RATE_LIMITED
    resyncs.forget("s")
    resyncs.refused("t")
    await asyncio.sleep(FIRST_DELAY + 0.1)
    code = resyncs.answered("t")
    assert code == UNAVAILABLE
    resyncs.unusable("t", code)
    assert resyncs.waiting("t") == UNAVAILABLE
    await resyncs.close()
