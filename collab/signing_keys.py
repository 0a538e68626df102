"""Where the signing key comes from: COLLAB_SECRET_KEY, or in development a key generated
once and kept in the data directory. In production a generated, short or well-known key is
refused, with the reason, before anything starts.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from auth.keys import MIN_KEY_BYTES, SigningKeys
from config import Settings

KEY_FILE = "secret_key"
_WELL_KNOWN = {"secret", "changeme", "change-me", "development", "dev", "collab", "password"}


class InsecureConfiguration(RuntimeError):
    """The configuration is not safe to run in production; the message says why."""


def _check_strength(name: str, value: str) -> bytes:
    raw = value.encode()
    if value.strip().lower() in _WELL_KNOWN or len(raw) < MIN_KEY_BYTES:
        raise InsecureConfiguration(
            f"{name} must be a random value of at least {MIN_KEY_BYTES} bytes "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
        )
    return raw


def _generated_key(data_dir: Path) -> bytes:
    path = data_dir / KEY_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip().encode()
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


def load_signing_keys(settings: Settings) -> SigningKeys:
    previous_raw = settings.previous_secret_keys
    previous = tuple(
        part.strip().encode()
        for part in (previous_raw.get_secret_value() if previous_raw else "").split(",")
        if part.strip()
    )
    if settings.secret_key is not None:
        value = settings.secret_key.get_secret_value()
        if settings.is_production:
            current = _check_strength("COLLAB_SECRET_KEY", value)
        else:
            current = value.encode()
        return SigningKeys(current, previous)
    if settings.is_production:
        raise InsecureConfiguration(
            "COLLAB_ENV=production needs COLLAB_SECRET_KEY: refusing to sign tokens with a "
            "generated development key"
        )
    return SigningKeys(_generated_key(settings.data_dir), previous)
