"""Which requests are previews, by their `Host`: `{deployment_id}.{suffix}`.

Every preview has its own origin, so a deployed app's scripts never run on the app's origin
(where the IDE keeps its credentials) nor on another preview's. The suffix is the
`host[:port]` of `Settings.preview_host_suffix`. A host is a preview host when it is a
subdomain of the suffix's host name (case-insensitive, a trailing dot ignored) and its port
is exactly the suffix's (both absent, or the same number). Only a single label that is a
deployment id in its canonical form names a deployment, so each deployment has exactly one
origin; any other subdomain of the preview domain names nothing.

`preview_host_middleware` answers every request on a preview host with the preview, whatever
its path: such a host never reaches the app's page, `/api` or `/socket.io`. aiohttp resolves
the route before middlewares run, so the middleware goes first in the list and never calls
the handler it is given on a preview host.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from kernel.errors import NotFound

# Answers a request on a preview host, for that deployment.
ServePreview = Callable[[web.Request, uuid.UUID], Awaitable[web.StreamResponse]]


def _split(authority: str) -> tuple[str, int | None] | None:
    """(host name lower-cased without a trailing dot, port) of `host[:port]`; None when the
    port is not a number. IPv6 literals are kept whole (they are never preview hosts)."""
    authority = authority.strip().lower()
    name, port = authority, ""
    if not authority.endswith("]") and ":" in authority:
        name, _, port = authority.rpartition(":")
    if not port:
        return name.rstrip("."), None
    if not port.isdigit() or len(port) > 5:
        return None
    return name.rstrip("."), int(port)


def preview_label(host: str | None, suffix: str) -> str | None:
    """The part of `host` before `.{suffix}` when it is a preview host, else None."""
    if not host:
        return None
    ours, theirs = _split(suffix), _split(host)
    if ours is None or theirs is None or not ours[0]:
        return None
    (domain, port), (name, their_port) = ours, theirs
    if their_port != port or not name.endswith(f".{domain}"):
        return None
    label = name.removesuffix(f".{domain}")
    return label or None


def is_preview_host(host: str | None, suffix: str) -> bool:
    """Whether a `Host` belongs to the previews (any subdomain of the preview domain, on its
    port): such a request is never the app's, even when it names no deployment."""
    return preview_label(host, suffix) is not None


def deployment_of(host: str | None, suffix: str) -> uuid.UUID | None:
    """The deployment a preview host names, None when it names none (or is not one)."""
    label = preview_label(host, suffix)
    if label is None or len(label) != 36:
        return None
    try:
        deployment_id = uuid.UUID(label)
    except ValueError:
        return None
    # Only the canonical spelling: one origin per deployment.
    return deployment_id if str(deployment_id) == label else None


def preview_host_middleware(
    suffix: str, serve: ServePreview, around: Sequence[Middleware] = ()
) -> Middleware:
    """A middleware that hands every request on a preview host to `serve`, run inside the
    `around` middlewares (e.g. request ids and error translation; the app's own headers,
    CORS and CSP are not the preview's), and lets every other request through."""

    @web.middleware
    async def previews(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not is_preview_host(request.host, suffix):
            return await handler(request)
        deployment_id = deployment_of(request.host, suffix)

        async def preview(request: web.Request) -> web.StreamResponse:
            if deployment_id is None:
                raise NotFound("No such deployment.")
            return await serve(request, deployment_id)

        inner: Handler = preview
        for wrap in reversed(around):
            inner = partial(wrap, handler=inner)
        return await inner(request)

    return previews
