"""The OpenAPI 3.1 document, built from the application's own router.

Which routes exist, their methods and their path parameters come from aiohttp's router;
what each takes and answers comes from its `Operation` (a `@documented` handler, or the
table in `collab.http.apidoc.operations`); request bodies are the pydantic models the handlers
parse. Routes outside the API (pages, assets, previews, Socket.IO) are left out on purpose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from collab.http.apidoc.model import Operation
from collab.http.apidoc.operations import OPERATIONS
from collab.http.apidoc.schemas import COMPONENTS, ref

# Routes that are not the REST API: the web app's pages and assets, the preview proxy,
# Socket.IO's transport (described by /api/asyncapi.json). A route matched here is left out.
NOT_API = re.compile(r"^/(?:$|assets/|preview/|socket\.io/|\{path\}$)")

# What any operation may answer besides its own success (the contract's error list).
COMMON_ERRORS: dict[int, str] = {
    400: "The body is not JSON, or not an object (`invalid_json`)",
    404: "No such resource (also for ids that are not UUIDs)",
    413: "The body is too large",
    422: "Invalid fields (`validation_failed`, details: field → reason)",
    429: "Too many requests (`rate_limited`, with Retry-After)",
    503: "A dependency is down (`unavailable`, with Retry-After)",
}
AUTH_ERRORS: dict[int, str] = {
    401: "No, an expired or an invalid token",
    403: "The caller's role does not allow this",
}
MORE_ERRORS: dict[int, str] = {
    409: "Conflicts with the current state (`conflict`)",
    410: "Expired, revoked or already used (`gone`)",
}
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"apiKey": []}]
_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass
class Built:
    document: dict[str, Any]
    # Routes with no Operation: the drift test fails on these; the server still answers.
    undocumented: list[tuple[str, str]] = field(default_factory=list)
    # Table entries that no route has.
    stale: list[tuple[str, str]] = field(default_factory=list)


def api_routes(app: web.Application) -> list[tuple[str, str, Any]]:
    """(method, path, handler) of every REST route, in the router's order; HEAD (which
    aiohttp adds to every GET) and catch-all routes left out."""
    found = []
    for route in app.router.routes():
        if route.method not in _METHODS or route.resource is None:
            continue
        path = _PARAM.sub(r"{\1}", route.resource.canonical)
        if not NOT_API.match(path):
            found.append((route.method, path, route.handler))
    return found


def operation_of(method: str, path: str, handler: Any) -> Operation | None:
    own = getattr(handler, "__openapi__", None)
    return own if isinstance(own, Operation) else OPERATIONS.get((method, path))


def build(app: web.Application, server_url: str | None = None) -> Built:
    models: dict[str, type[BaseModel]] = {}
    routes = api_routes(app)
    built = Built({})
    paths: dict[str, dict[str, Any]] = {}
    for method, path, handler in routes:
        operation = operation_of(method, path, handler)
        if operation is None:
            built.undocumented.append((method, path))
            continue
        if isinstance(operation.body, type):
            models[operation.body.__name__] = operation.body
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, operation)
    present = {(m, p) for m, p, _ in routes}
    built.stale = sorted(key for key in OPERATIONS if key not in present)
    schemas = dict(COMPONENTS)
    if models:
        _, defs = models_json_schema(
            [(model, "validation") for model in models.values()],
            ref_template="#/components/schemas/{model}",
        )
        schemas.update(defs.get("$defs", {}))
    built.document = {
        "openapi": "3.1.0",
        "info": {
            "title": "collab",
            "version": "1",
            "description": (
                "The REST API of the collaboration server. Errors are always "
                '`{"error": {"code", "message", "details?"}}`. Real-time editing and '
                "presence are Socket.IO: see `/api/asyncapi.json`."
            ),
        },
        "servers": [{"url": server_url or "/"}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An access token from login, register or refresh.",
                },
                "metricsToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "COLLAB_METRICS_TOKEN (without it, /metrics is 404).",
                },
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "collab_…",
                    "description": "An API key (`collab_…`); its scopes narrow the user's roles.",
                },
            },
        },
        "security": SECURITY,
    }
    return built


def _operation(method: str, path: str, op: Operation) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": op.summary}
    if op.answer is not None:
        schema = ref(op.answer) if isinstance(op.answer, str) else op.answer
        answer["content"] = {op.media: {"schema": schema}}
    responses: dict[str, Any] = {str(op.status): answer}
    for status, description in op.also.items():
        responses[str(status)] = {"description": description}
    # Public routes answer 401 and 403 too: wrong credentials, a token that is refused.
    errors = dict(COMMON_ERRORS) | AUTH_ERRORS
    if method != "GET":  # a change can meet a state that refuses it (e.g. archived)
        errors[409] = MORE_ERRORS[409]
    errors.update({s: MORE_ERRORS.get(s, "An error") for s in op.errors})
    for status, description in sorted(errors.items()):
        responses[str(status)] = {
            "description": description,
            "content": {"application/json": {"schema": ref("Error")}},
        }
    result: dict[str, Any] = {
        "operationId": _operation_id(method, path),
        "summary": op.summary,
        "tags": [op.tag],
        "responses": responses,
    }
    if op.description:
        result["description"] = op.description
    if op.security:
        result["security"] = [{name: []} for name in op.security]
    elif op.auth == "none":
        result["security"] = []
    elif op.auth == "optional":
        result["security"] = [*SECURITY, {}]
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": _path_schema(name)}
        for name in _PARAM.findall(path)
    ]
    parameters += [
        {
            "name": q.name,
            "in": "query",
            "required": q.required,
            "schema": q.schema,
            **({"description": q.description} if q.description else {}),
        }
        for q in op.query
    ]
    if parameters:
        result["parameters"] = parameters
    if op.body is not None:
        body_schema = ref(op.body.__name__) if isinstance(op.body, type) else op.body
        result["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": body_schema}},
        }
    return result


def _path_schema(name: str) -> dict[str, Any]:
    if name.endswith("_id"):
        return {"type": "string", "format": "uuid"}
    if name == "path":
        return {"type": "string", "minLength": 1, "maxLength": 512}
    return {"type": "string", "minLength": 1, "maxLength": 200}


def _operation_id(method: str, path: str) -> str:
    words = re.sub(r"[{}]", "", path.removeprefix("/api/")).replace("-", "_")
    return f"{method.lower()}_" + re.sub(r"[^a-zA-Z0-9_]+", "_", words).strip("_")
