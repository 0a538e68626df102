"""Who an authenticated request or socket is: the user, plus how they proved it.

`AccountService.authenticate` answers a `Caller`, a `User` that also names its credential:
an access token's login (`login_id`, the refresh-token family the token belongs to), or an
API key (`key_id` and its `scopes`). `scopes is None` is a full login: nothing narrowed.

Scopes only ever narrow what the user's own roles allow: `read` (GET and HEAD), `write`
(every other change; it includes `read`), `deploy` (starting and stopping deployments),
`admin` (the platform admin routes, for a user who is an admin).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from typing import Any

from auth.users import User
from kernel.errors import Forbidden

SCOPES = ("read", "write", "deploy", "admin")


@dataclass(frozen=True)
class Caller(User):
    login_id: uuid.UUID | None = None
    key_id: uuid.UUID | None = None
    scopes: frozenset[str] | None = None

    @classmethod
    def of(cls, user: User, **credential: Any) -> Caller:
        return cls(**{f.name: getattr(user, f.name) for f in fields(User)}, **credential)

    @property
    def credential_id(self) -> uuid.UUID | None:
        """What ending this credential is announced by: the key, or the login."""
        return self.key_id or self.login_id

    @property
    def is_api_key(self) -> bool:
        return self.key_id is not None

    def has_scope(self, scope: str) -> bool:
        if self.scopes is None:
            return True
        if scope == "read":
            return bool(self.scopes & {"read", "write"})
        return scope in self.scopes

    @property
    def may_write(self) -> bool:
        return self.has_scope("write")


class InsufficientScope(Forbidden):
    """An API key without the scope an operation needs (or any key, on the routes that
    manage the account's credentials)."""

    code = "insufficient_scope"
