"""The kernel's exceptions in the contract's words: status, code, message, details."""

from __future__ import annotations

from collab.http.errors import ApiError, ErrorTranslator
from kernel import errors

_STATUS: list[tuple[type[errors.ServiceError], int]] = [
    (errors.ValidationFailed, 422),
    (errors.InvalidCredentials, 401),
    (errors.Unauthenticated, 401),
    (errors.TokenReused, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.Gone, 410),
    (errors.RateLimited, 429),
    (errors.Unavailable, 503),
    (errors.BadGateway, 502),
]


def _translate(exc: Exception) -> ApiError:
    assert isinstance(exc, errors.ServiceError)
    status = next((s for kind, s in _STATUS if isinstance(exc, kind)), 400)
    headers: dict[str, str] = {}
    if isinstance(exc, errors.RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    if status == 401:
        headers["WWW-Authenticate"] = f'Bearer error="{exc.code}"'
    return ApiError(status, exc.code, exc.message, exc.details, headers)


# What build_app puts in each application's ErrorTranslators.
TRANSLATOR: tuple[type[Exception], ErrorTranslator] = (errors.ServiceError, _translate)
