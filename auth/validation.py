"""Input rules for accounts and workspaces, as pydantic models.

A failure becomes `ValidationFailed` with one reason per field. Every string refuses NUL
characters (PostgreSQL cannot store them) and has a length cap, so no input reaches the
database that it would reject.

Emails and usernames are compared in their normal form (`auth.identifiers`): NFKC, one
script per part of an address, and usernames of ASCII letters, digits and underscore.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic import ValidationError as PydanticValidationError

from auth.errors import ValidationFailed
from auth.identifiers import mixed_scripts, normal_form

M = TypeVar("M", bound=BaseModel)

# ASCII on purpose: "letters" in the contract's username rule are A-Z and a-z, so no
# username can look like another one written in a different script.
_USERNAME = re.compile(r"[A-Za-z0-9_]{3,50}")

# The deepest nesting of arrays and objects accepted anywhere in a request. Generous for
# any real payload; bounded so no parser or recursive walk can run out of stack.
MAX_JSON_DEPTH = 64


def nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and dicts nest more than `limit` levels in a JSON-like value (a scalar
    is level 0), found without recursion."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


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


def Text(max_length: int, min_length: int = 0) -> Any:
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(_no_nul),
    ]


Email = Annotated[
    str, StringConstraints(max_length=255), AfterValidator(_no_nul), AfterValidator(_email)
]
Username = Annotated[str, StringConstraints(max_length=50), AfterValidator(_username)]
# Long passphrases are welcome; the cap only keeps hashing requests bounded.
Password = Annotated[str, StringConstraints(max_length=1024), AfterValidator(_no_nul)]
ImageUrl = Annotated[str, StringConstraints(max_length=500), AfterValidator(_http_url)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        details: dict[str, str] = {}
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "body"
            message = str(error["msg"]).removeprefix("Value error, ")
            details.setdefault(field, message)
        raise ValidationFailed(details) from None


# -- accounts ---------------------------------------------------------------------------


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
        AfterValidator(_no_nul),
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


# -- workspaces -------------------------------------------------------------------------


class WorkspaceInput(Input):
    name: Text(255, min_length=1)  # type: ignore[valid-type]
    description: Text(10_000) | None = None  # type: ignore[valid-type]
    is_public: bool = False
    is_template: bool = False


class WorkspacePatch(Input):
    name: Text(255, min_length=1) | None = None  # type: ignore[valid-type]
    description: Text(10_000) | None = None  # type: ignore[valid-type]
    is_public: bool | None = None
    is_template: bool | None = None
    status: Annotated[str, Field(pattern="^(active|archived)$")] | None = None


class RoleInput(Input):
    role: Annotated[str, Field(pattern="^(owner|admin|editor|viewer)$")]


class InvitationInput(Input):
    email: Email | None = None
    user_id: Annotated[str, Field(pattern=r"^[0-9a-fA-F-]{36}$")] | None = None
    role: Annotated[str, Field(pattern="^(admin|editor|viewer)$")]
