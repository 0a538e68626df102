"""The contract's error shape, `{"error": {"code", "message", "details"?}}`, on every route.

`error_middleware` is the one place exceptions become HTTP answers: our own `ApiError`,
aiohttp's HTTP exceptions (404, 405, 413, ...) and, for anything unexpected, a bare 500
that carries no trace. Each application carries its own `ErrorTranslators` (under
`ERROR_TRANSLATORS`, set by the composition root), so the translation stays here at the
edge and building a second application never changes the first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiohttp import web

from collab.http.loggable import loggable_path
from kernel.validation import MAX_JSON_DEPTH

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An error to answer with as is: HTTP status, contract code, human message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = dict(details) if details else None
        self.headers = dict(headers) if headers else None


def error_body(code: str, message: str, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = dict(details)
    return {"error": error}


def error_response(error: ApiError) -> web.Response:
    return web.json_response(
        error_body(error.code, error.message, error.details),
        status=error.status,
        headers=error.headers,
    )


# aiohttp's own exceptions (raised by routing and body reading) in the contract's words.
_HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request could not be understood."),
    401: ("unauthorized", "Authentication is required."),
    403: ("forbidden", "You may not do this."),
    404: ("not_found", "No such resource."),
    405: ("method_not_allowed", "This method is not allowed on this resource."),
    408: ("request_timeout", "The request body stopped arriving; the connection is closed."),
    413: ("payload_too_large", "The request body is too large."),
    415: ("unsupported_media_type", "Send JSON with Content-Type: application/json."),
}

ErrorTranslator = Callable[[Exception], ApiError]
# What a translator answers for: one exception class, or several (as `isinstance` takes them).
ErrorKind = type[Exception] | tuple[type[Exception], ...]


class ErrorTranslators:
    """The domain exceptions one application answers with, each in the contract's words."""

    def __init__(self, entries: Iterable[tuple[ErrorKind, ErrorTranslator]] = ()) -> None:
        self._entries = tuple(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def translate(self, exc: Exception) -> ApiError | None:
        if isinstance(exc, ApiError):
            return exc
        for kind, translator in self._entries:
            if isinstance(exc, kind):
                return translator(exc)
        return None


ERROR_TRANSLATORS = web.AppKey("error_translators", ErrorTranslators)
# Seconds a handler may wait for the next byte of a request body (the composition root sets
# COLLAB_IDLE_CONNECTION_TIMEOUT_SECONDS); past it the read fails with a 408.
BODY_IDLE_TIMEOUT = web.AppKey("body_idle_timeout", float)
DEFAULT_BODY_IDLE_TIMEOUT = 30.0


async def _body_deadline(request: web.Request, seconds: float) -> None:
    """End a body that stops arriving: aiohttp's keep-alive timeout covers a request's
    headers, not its body, so a client declaring a length (or a chunk) it never sends held
    the connection and the handler for ever. A stall is time during which the handler waits
    for bytes and none come; a handler that is busy, or has stopped reading, is not one."""
    content = request.content
    seen = content.total_bytes
    waiting_since: float | None = None
    loop = asyncio.get_running_loop()
    while not content.is_eof() and content.exception() is None:
        await asyncio.sleep(min(seconds / 4, 1.0))
        if content.total_bytes != seen or content._waiter is None:
            seen, waiting_since = content.total_bytes, None
            continue
        if waiting_since is None:
            waiting_since = loop.time()
        elif loop.time() - waiting_since >= seconds:
            content.set_exception(web.HTTPRequestTimeout())
            return


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    deadline: asyncio.Task[None] | None = None
    if request.body_exists and not request.content.is_eof():
        seconds = request.app.get(BODY_IDLE_TIMEOUT, DEFAULT_BODY_IDLE_TIMEOUT)
        deadline = asyncio.create_task(_body_deadline(request, seconds))
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code, message = _HTTP_CODES.get(exc.status, ("http_error", exc.reason))
        if exc.status == 413 and exc.text:
            message = exc.text  # aiohttp names the limit and the size it saw
        response = web.json_response(
            error_body(code, message), status=exc.status, headers=_kept_headers(exc)
        )
        if exc.status == 408:
            response.force_close()  # what is left of the body will not come
        return response
    except Exception as exc:
        api_error = request.app[ERROR_TRANSLATORS].translate(exc)
        if api_error is not None:
            return error_response(api_error)
        if _undecodable_input(exc):
            log.info(
                "refused bytes that are not UTF-8 on %s %s",
                request.method,
                loggable_path(request.path),
            )
            return web.json_response(
                error_body("bad_request", "The request holds bytes that are not valid UTF-8."),
                status=400,
            )
        log.exception("unhandled error on %s %s", request.method, loggable_path(request.path))
        return web.json_response(
            error_body("internal_error", "Something went wrong on our side."), status=500
        )
    finally:
        if deadline is not None:
            deadline.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await deadline


# aiohttp hands on header, cookie and query bytes that are not UTF-8 as U+DC80..U+DCFF
# (surrogateescape); read_json refuses lone surrogates in bodies. Nothing of ours makes them.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def _undecodable_input(exc: Exception) -> bool:
    """Whether `exc` is such client text failing to encode (in a JWT library, an HMAC
    comparison, ...): bad input, answered 400, never a 500."""
    return (
        isinstance(exc, UnicodeEncodeError)
        and isinstance(exc.object, str)
        and _ESCAPED_BYTE.search(exc.object[exc.start : exc.end]) is not None
    )


def _kept_headers(exc: web.HTTPException) -> dict[str, str]:
    return {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}


# A string token, closing quote optional: an unterminated string ends the text instead of
# being retried from every later quote, so the scan stays linear on hostile input.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
# Valid UTF-8 cannot carry a surrogate: in JSON text one only comes from an escape, `\uD800`
# to `\uDFFF`. A well-formed pair decodes to one character; what is left is lone.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _nests_deeper_than(text: str, limit: int) -> bool:
    """Count brackets outside strings, without recursion: a megabyte of `[` costs nothing."""
    depth = 0
    for bracket in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _has_lone_surrogate(value: Any) -> bool:
    """Whether any string or key holds a surrogate the decoder could not pair (I-JSON)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise ValueError(f"{literal} is out of range")
    return number


def parse_json(raw: bytes) -> Any:
    """Strict JSON (RFC 8259 as I-JSON, RFC 7493, restricts it): nesting at most
    MAX_JSON_DEPTH, finite numbers only, no lone surrogates. ValueError says what is wrong."""
    text = raw.decode(json.detect_encoding(raw))
    if _nests_deeper_than(text, MAX_JSON_DEPTH):
        raise ValueError(f"it nests deeper than {MAX_JSON_DEPTH} levels")
    value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise ValueError("a string holds a lone UTF-16 surrogate, which is not a character")
    return value


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body, or a 400 `invalid_json` naming what is wrong.

    Every JSON route reads its body here, so hostile JSON (too deep, `NaN`, lone
    surrogates) is refused once, at the edge, before any handler or store sees it.
    """
    raw = await request.read()
    if not raw:
        raise ApiError(400, "invalid_json", "The request body is empty; send a JSON object.")
    try:
        body = parse_json(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "The request body must be a JSON object.")
    return body
