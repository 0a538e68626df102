"""TOTP codes (RFC 6238: SHA-1, 30 s steps, 6 digits), the enrolment QR code, recovery codes.

A code is accepted one step either side of now (clock drift) and only for a step later than
the last one accepted for the account, so a code seen over a shoulder or replayed from a log
is refused even within its window. Recovery codes carry 50 random bits each and are stored
as SHA-256 hashes (high-entropy and single-use: a slow hash buys nothing).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
import secrets
import time

import pyotp
import segno

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1  # steps accepted either side of now
RECOVERY_CODES = 10
# ASCII digits only: `\d` also matches other scripts' digits, which `hmac.compare_digest`
# refuses with TypeError (a str it compares must be ASCII).
_CODE = re.compile(r"[0-9]{6}")


def new_secret() -> str:
    """160 random bits in base32, as authenticator apps expect (RFC 4226's recommendation)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_svg(uri: str) -> str:
    """The otpauth URI as an SVG QR code, for the web app to inline."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False)
    return out.getvalue().decode()


def matching_step(secret: str, code: str, after_step: int, now: float | None = None) -> int | None:
    """The time step the code belongs to, if it is valid now and later than `after_step`."""
    code = code.strip().replace(" ", "")
    if not _CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    for step in range(current - WINDOW, current + WINDOW + 1):
        if step > after_step and hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten codes like `k3m9q-x7c2p`: easy to copy, 50 random bits each."""
    codes = []
    for _ in range(RECOVERY_CODES):
        text = base64.b32encode(secrets.token_bytes(7)).decode().lower()[:10]  # 50 bits
        codes.append(f"{text[:5]}-{text[5:]}")
    return codes


def recovery_code_hash(code: str) -> str:
    """What is stored: the hash of the code's normal form (case, dashes and spaces dropped)."""
    normal = re.sub(r"[\s-]", "", code).lower()
    return hashlib.sha256(f"collab-recovery:{normal}".encode()).hexdigest()
