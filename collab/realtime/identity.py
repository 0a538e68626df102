"""How a socket proves who it is: the handshake's `auth: {token}` (an access token or an
API key), and what that credential lets the socket do.

A socket opened with an API key lacking the `write` scope is read-only in every document,
whatever its user's role (`capped`); one lacking `read` too (a key for deploying or
administering only) connects to no namespace (`connect_error` "forbidden"), as REST refuses
it every read. Each socket is remembered with its credential, so
ending one login or revoking one key closes exactly its sockets (`SocketCredentials`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from auth.callers import Caller
from collab.model import SessionRole

Authenticate = Callable[[str], Awaitable[Caller]]


def capped(role: SessionRole, caller: Caller) -> SessionRole:
    """The role a socket acts with: its user's, at most viewer for a key without `write`."""
    return role if caller.may_write else SessionRole.VIEWER


class SocketCredentials:
    """Socket id → (namespace, the credential it connected with), on this process."""

    def __init__(self) -> None:
        self._sockets: dict[str, tuple[str, uuid.UUID | None, bool]] = {}

    def remember(self, sid: str, namespace: str, caller: Caller) -> None:
        self._sockets[sid] = (namespace, caller.credential_id, caller.may_write)

    def forget(self, sid: str) -> None:
        self._sockets.pop(sid, None)

    def cap(self, sid: str, role: SessionRole) -> SessionRole:
        """`role`, lowered to viewer for a read-only socket."""
        entry = self._sockets.get(sid)
        return role if entry is None or entry[2] else SessionRole.VIEWER

    def opened_with(self, credential_id: uuid.UUID) -> list[tuple[str, str]]:
        """(sid, namespace) of every socket opened with this login or key."""
        return [(sid, ns) for sid, (ns, cred, _) in self._sockets.items() if cred == credential_id]
