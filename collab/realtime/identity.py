"""How a socket proves who it is: the handshake's `auth: {token}`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from auth.users import User

Authenticate = Callable[[str], Awaitable[User]]
