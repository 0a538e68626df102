"""The per-address handshake budget and the soak's slope fit, without any server."""

from __future__ import annotations

import pytest

from bench.soak import slope
from collab.realtime.connection_guard import HandshakeLimiter
from kernel.errors import RateLimited

pytestmark = pytest.mark.unit


def test_a_burst_is_admitted_then_refused_with_when_to_retry() -> None:
    limiter = HandshakeLimiter(burst=3, per_second=0.5)
    for _ in range(3):
        limiter.admit("198.51.100.7", now=100.0)
    with pytest.raises(RateLimited) as refused:
        limiter.admit("198.51.100.7", now=100.0)
    assert refused.value.retry_after == 2  # one token at 0.5 a second
    limiter.admit("198.51.100.8", now=100.0)  # another address has its own budget
    limiter.admit("198.51.100.7", now=102.0)  # refilled
    with pytest.raises(RateLimited):
        limiter.admit("198.51.100.7", now=102.0)


def test_refusals_do_not_spend_the_budget() -> None:
    limiter = HandshakeLimiter(burst=1, per_second=1.0)
    limiter.admit("a", now=0.0)
    for _ in range(50):
        with pytest.raises(RateLimited):
            limiter.admit("a", now=0.5)
    limiter.admit("a", now=1.0)


def test_the_table_of_addresses_is_bounded() -> None:
    limiter = HandshakeLimiter(burst=1, per_second=0.001, max_addresses=100)
    limiter.admit("first", now=0.0)
    for i in range(100):
        limiter.admit(f"spray-{i}", now=0.0)
    # "first" was forgotten (least recently seen), so it starts again with a full burst.
    limiter.admit("first", now=0.0)
    with pytest.raises(RateLimited):
        limiter.admit("spray-99", now=0.0)


def test_slope_is_the_least_squares_fit() -> None:
    assert slope([0, 1, 2, 3], [1, 3, 5, 7]) == pytest.approx(2.0)
    assert slope([0, 1, 2, 3], [5, 5, 5, 5]) == pytest.approx(0.0)
    assert slope([1, 1], [0, 9]) == 0.0
