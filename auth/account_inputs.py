"""What account requests may carry, and the rules for emails, usernames, passwords and
image URLs (emails and usernames compared in their normal form, `auth.identifiers`)."""

from __future__ import annotations

import re
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, StringConstraints, model_validator

from auth.identifiers import mixed_scripts, normal_form
from kernel.validation import Input, Text, no_nul

# ASCII on purpose: "letters" in the contract's username rule are A-Z and a-z, so no
# username can look like another one written in a different script.
_USERNAME = re.compile(r"[A-Za-z0-9_]{3,50}")


def _email(value: str) -> str:
    try:
        result = validate_email(normal_form(value), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"is not a valid email address ({exc})") from None
    for part in (result.local_part, *result.domain.split(".")):
        scripts = mixed_scripts(part)
        if scripts:
            raise ValueError(
                f"mixes letters of several scripts ({', '.join(scripts).title()}) in "
                f"{part!r}, as look-alike addresses do"
            )
    return normal_form(result.normalized.lower())


def _username(value: str) -> str:
    value = normal_form(value)
    if not _USERNAME.fullmatch(value):
        raise ValueError("must be 3 to 50 ASCII letters, digits or underscores")
    return value


def _http_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s]+", value):
        raise ValueError("must be an http(s) URL")
    return value


Email = Annotated[
    str, StringConstraints(max_length=255), AfterValidator(no_nul), AfterValidator(_email)
]

Username = Annotated[str, StringConstraints(max_length=50), AfterValidator(_username)]

# Long passphrases are welcome; the cap only keeps hashing requests bounded.
Password = Annotated[str, StringConstraints(max_length=1024), AfterValidator(no_nul)]

ImageUrl = Annotated[str, StringConstraints(max_length=500), AfterValidator(_http_url)]


class RegisterInput(Input):
    email: Email
    username: Username
    password: Password
    first_name: Text(100) | None = None  # type: ignore[valid-type]
    last_name: Text(100) | None = None  # type: ignore[valid-type]


class LoginInput(Input):
    login: Annotated[
        str,
        StringConstraints(min_length=1, max_length=255),
        AfterValidator(no_nul),
        AfterValidator(normal_form),  # a fullwidth spelling is the same account
    ]
    password: Password


class RefreshInput(Input):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ProfileInput(Input):
    first_name: Text(100) | None = None  # type: ignore[valid-type]
    last_name: Text(100) | None = None  # type: ignore[valid-type]
    username: Username | None = None
    profile_image_url: ImageUrl | None = None


class TokenInput(Input):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ForgotInput(Input):
    email: Email


class ResetInput(Input):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    password: Password


# -- two-factor login and account changes (auth/mfa.py, auth/account_changes.py) -----------

OneTimeCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
RecoveryCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


def _exactly_one(model: Input, *names: str) -> None:
    given = [n for n in names if getattr(model, n) is not None]
    if len(given) != 1:
        raise ValueError(f"send exactly one of {', '.join(names)}")


class CodeInput(Input):
    code: OneTimeCode


class MfaDisableInput(Input):
    code: OneTimeCode | None = None
    password: Password | None = None

    @model_validator(mode="after")
    def _one_proof(self) -> MfaDisableInput:
        _exactly_one(self, "code", "password")
        return self


class MfaVerifyInput(Input):
    mfa_token: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    code: OneTimeCode | None = None
    recovery_code: RecoveryCode | None = None

    @model_validator(mode="after")
    def _one_proof(self) -> MfaVerifyInput:
        _exactly_one(self, "code", "recovery_code")
        return self


class PasswordChangeInput(Input):
    current_password: Password
    new_password: Password


class EmailChangeInput(Input):
    new_email: Email
    password: Password
