"""When a failed delivery is tried again: exponential backoff with full jitter, for up to
24 hours after the event. Pure: the random source is passed in."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

GIVE_UP_AFTER = timedelta(hours=24)
FIRST_DELAY_SECONDS = 10.0
MAX_DELAY_SECONDS = 3600.0


def next_attempt(
    attempts: int,
    created_at: datetime,
    now: datetime,
    *,
    first_delay: float = FIRST_DELAY_SECONDS,
    give_up_after: timedelta = GIVE_UP_AFTER,
    rng: random.Random | None = None,
) -> datetime | None:
    """When to try after `attempts` failures, or None once 24 h have passed.

    The delay doubles each time (capped at an hour); half of it is fixed and half random,
    so that endpoints coming back do not receive every retry at once.
    """
    if now - created_at >= give_up_after:
        return None
    ceiling = min(MAX_DELAY_SECONDS, first_delay * 2 ** max(attempts - 1, 0))
    delay = ceiling / 2 + (rng or random).uniform(0, ceiling / 2)
    due = now + timedelta(seconds=delay)
    return min(due, created_at + give_up_after)
