"""Reading path parameters: an id that is not a UUID names nothing, so it is a 404."""

from __future__ import annotations

import uuid

from aiohttp import web

from kernel.errors import NotFound


def path_uuid(request: web.Request, name: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise NotFound(f"No such {what}.") from None
