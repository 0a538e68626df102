"""Reading path and query parameters: an id that is not a UUID names nothing, so it is a
404; a query number out of its range is a 422 naming it."""

from __future__ import annotations

import uuid

from aiohttp import web

from kernel.errors import NotFound, ValidationFailed


def path_uuid(request: web.Request, name: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise NotFound(f"No such {what}.") from None


def int_query(
    request: web.Request, name: str, default: int | None, low: int, high: int
) -> int | None:
    """`?name=` as a whole number in [low, high], or `default` when absent."""
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed({name: "must be a whole number"}) from None
    if not low <= value <= high:
        raise ValidationFailed({name: f"must be between {low} and {high}"})
    return value
