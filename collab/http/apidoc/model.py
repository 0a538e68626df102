"""What one REST operation declares beyond its method and path: the words, the models, the
answers. The path, the method and the path parameters come from aiohttp's router."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

Auth = Literal["required", "none", "optional"]
# A response body: a component's name, a JSON Schema, or None for no body.
Body = str | dict[str, Any] | None
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Query:
    name: str
    schema: dict[str, Any]
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    auth: Auth = "required"
    # The request body: a pydantic model the handler parses, or a JSON Schema.
    body: type[BaseModel] | dict[str, Any] | None = None
    body_required: bool = True
    status: int = 200
    answer: Body = None
    media: str = "application/json"
    query: tuple[Query, ...] = ()
    # Statuses beyond the ones every operation may answer (see openapi.COMMON_ERRORS).
    errors: tuple[int, ...] = ()
    description: str = ""
    # Further success answers, e.g. {302: "redirect"}.
    also: dict[int, str] = field(default_factory=dict)
    # Security schemes other than the user's token (e.g. the metrics token).
    security: tuple[str, ...] = ()


def documented(operation: Operation) -> Callable[[F], F]:
    """Attach an operation to its handler, for route modules that describe themselves
    (`collab.http.apidoc.operations.OPERATIONS` describes the rest). Put it under the route
    decorator: `@routes.post(...)` then `@documented(Operation(...))`."""

    def attach(handler: F) -> F:
        handler.__openapi__ = operation  # type: ignore[attr-defined]
        return handler

    return attach
