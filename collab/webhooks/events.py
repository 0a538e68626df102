"""The events a webhook can subscribe to, and the function services emit them through.

Services are given an `EmitWebhook` at construction (see collab/app.py); they never know
about endpoints or the queue. Emitting never raises: a webhook problem must not fail the
action that caused the event.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

EVENTS = (
    "session.created",
    "session.archived",
    "participant.joined",
    "participant.left",
    "file.changed",
    "deployment.status",
    "member.added",
    "member.removed",
)

# (event, ws_id, data, debounce_key): events of one debounce key that are still waiting
# for their first attempt are merged into one delivery (file.changed, per file).
EmitWebhook = Callable[[str, uuid.UUID, dict[str, Any], str | None], Awaitable[None]]


async def emit_nothing(
    event: str, ws_id: uuid.UUID, data: dict[str, Any], debounce_key: str | None = None
) -> None:
    """For services built without webhooks (tests, tools)."""
