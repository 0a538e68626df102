"""Input rules every package shares, as pydantic models.

A failure becomes `ValidationFailed` with one reason per field. Every string refuses NUL
characters (PostgreSQL cannot store them) and has a length cap, so no input reaches the
database that it would reject.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
from pydantic import ValidationError as PydanticValidationError

from kernel.errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)

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


def no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def Text(max_length: int, min_length: int = 0) -> Any:
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(no_nul),
    ]


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
