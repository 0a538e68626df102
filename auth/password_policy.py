"""Which passwords are acceptable.

Default rule (the contract's): at least 8 characters with an upper-case letter, a
lower-case letter and a digit. ASVS 5.0 discourages composition rules, so
COLLAB_PASSWORD_POLICY=length keeps only the length floor. Either way, passwords from the
30,000 most common (zxcvbn's list) and passwords equal to the username or email are refused.
"""

from __future__ import annotations

import enum
from functools import cache

MIN_LENGTH = 8


class PasswordPolicy(enum.StrEnum):
    COMPOSITION = "composition"
    LENGTH = "length"


@cache
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(
    password: str, policy: PasswordPolicy, *, username: str = "", email: str = ""
) -> str | None:
    """Why the password is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if policy is PasswordPolicy.COMPOSITION and not (
        any(c.isupper() for c in password)
        and any(c.islower() for c in password)
        and any(c.isdigit() for c in password)
    ):
        return "must include an upper-case letter, a lower-case letter and a digit"
    lowered = password.lower()
    if lowered in _common_passwords():
        return "is one of the most common passwords; choose another"
    if lowered in {username.lower(), email.lower(), email.split("@")[0].lower()} - {""}:
        return "must not be your username or email"
    return None
