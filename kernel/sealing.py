"""Sealing small secrets at rest: AES-GCM with a key chosen by id, the id bound to the value.

Key-agnostic on purpose (kernel imports nothing of auth): the caller says which key id is
current and how to find the key of any id, so values sealed before a key rotation still open
as long as their key is configured. Workspace secrets and TOTP secrets each derive their own
key from the signing keys, for their own purpose.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class SealingKeyMissing(ValueError):
    """The key a value was sealed with is no longer configured."""


class Sealer:
    def __init__(self, current_kid: str, key_for: Callable[[str], bytes | None]) -> None:
        self._current_kid = current_kid
        self._key_for = key_for

    def _key(self, kid: str) -> bytes:
        key = self._key_for(kid)
        if key is None:
            raise SealingKeyMissing("the key this value was sealed with is no longer configured")
        return key

    def seal(self, value: str) -> dict[str, str]:
        """`{"kid", "ciphertext"}`: base64 of nonce + AES-GCM output, the kid as associated
        data so a value cannot be passed off as sealed under another key."""
        kid = self._current_kid
        nonce = os.urandom(12)
        sealed = AESGCM(self._key(kid)).encrypt(nonce, value.encode(), kid.encode())
        return {"kid": kid, "ciphertext": base64.b64encode(nonce + sealed).decode()}

    def open(self, stored: dict[str, str]) -> str:
        raw = base64.b64decode(stored["ciphertext"])
        key = self._key(stored["kid"])
        return AESGCM(key).decrypt(raw[:12], raw[12:], stored["kid"].encode()).decode()
