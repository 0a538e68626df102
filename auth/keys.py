"""The key set that signs and verifies access tokens.

The current key signs; previous keys only verify, so rotating the key (move the old one
to COLLAB_PREVIOUS_SECRET_KEYS, set a new COLLAB_SECRET_KEY) logs nobody out. Each key's
id (`kid` in the token header) is derived from the key itself, so operators never name keys.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

MIN_KEY_BYTES = 32


def key_id(secret: bytes) -> str:
    # An HMAC of a constant, not a hash of the key, so the kid reveals nothing reusable.
    return hmac.new(secret, b"collab-kid", hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class SigningKeys:
    current: bytes
    previous: tuple[bytes, ...] = ()
    _by_kid: dict[str, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_kid = {key_id(k): k for k in (self.current, *self.previous)}
        object.__setattr__(self, "_by_kid", by_kid)

    @property
    def current_kid(self) -> str:
        return key_id(self.current)

    def for_kid(self, kid: str) -> bytes | None:
        return self._by_kid.get(kid)

    def derive(self, purpose: str) -> bytes:
        """A separate key for another use (e.g. encrypting secrets at rest)."""
        return hmac.new(self.current, f"collab-derive:{purpose}".encode(), hashlib.sha256).digest()
