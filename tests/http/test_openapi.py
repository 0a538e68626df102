"""The OpenAPI document cannot drift from the router, and /api/docs serves it from the package.

The drift test walks aiohttp's router: a REST route without a description, or a description
without a route, fails it. The schemathesis suite (tests/fuzz) checks the answers themselves.
"""

from __future__ import annotations

import gzip
import re
from typing import Any

import jsonschema_rs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from collab.app import build_app
from collab.http.apidoc import asyncapi, openapi
from collab.http.apidoc_routes import DOCS
from config import Settings

Client = TestClient[web.Request, web.Application]


def _app() -> web.Application:
    return build_app(Settings())


def test_every_route_is_described_and_every_description_is_a_route() -> None:
    app = _app()
    built = openapi.build(app)
    assert built.undocumented == [], "routes with no Operation: describe them"
    assert built.stale == [], "Operations that name no route: remove them"
    in_router = {(m, p) for m, p, _ in openapi.api_routes(app)}
    in_document = {
        (method.upper(), path) for path, item in built.document["paths"].items() for method in item
    }
    assert in_document == in_router
    # Every route of the app is either in the document or deliberately not the REST API.
    for route in app.router.routes():
        path = re.sub(r"\{([^}:]+)(?::[^}]*)?\}", r"{\1}", route.resource.canonical)  # type: ignore[union-attr]
        if route.method in ("HEAD", "OPTIONS", "*") or openapi.NOT_API.match(path):
            continue
        assert (route.method, path) in in_document


def test_a_new_route_without_a_description_is_caught() -> None:
    app = _app()

    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    app.router.add_get("/api/sessions/{session_id}/nothing-here", handler)
    assert ("GET", "/api/sessions/{session_id}/nothing-here") in openapi.build(app).undocumented


def test_path_parameters_and_bodies_come_from_the_code() -> None:
    document = openapi.build(_app()).document
    read_file = document["paths"]["/api/sessions/{session_id}/files/{path}"]["get"]
    names = [p["name"] for p in read_file["parameters"] if p["in"] == "path"]
    assert names == ["session_id", "path"]
    assert read_file["responses"]["200"]["content"]["text/plain"]
    create = document["paths"]["/api/sessions"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SessionInput"
    }
    # The pydantic model the handler parses, with its own limits.
    session_input = document["components"]["schemas"]["SessionInput"]
    assert session_input["additionalProperties"] is False
    assert session_input["properties"]["name"]["maxLength"] == 255
    register = document["paths"]["/api/auth/register"]["post"]
    assert register["security"] == []
    assert document["paths"]["/api/auth/me"]["get"].get("security") is None  # the default
    assert document["security"] == [{"bearerAuth": []}, {"apiKey": []}]
    # Every error is the contract's shape.
    for item in document["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}


def test_every_schema_is_valid_json_schema_2020_12() -> None:
    document = openapi.build(_app()).document
    for name, schema in document["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name
    error = {
        "$defs": document["components"]["schemas"],
        **document["components"]["schemas"]["Error"],
    }
    text = jsonschema_rs.validator_for(_local_refs(error), validate_formats=True)
    assert text.is_valid({"error": {"code": "not_found", "message": "No such resource."}})
    assert not text.is_valid({"detail": "Not Found"})


def _local_refs(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            k: (v.replace("#/components/schemas/", "#/$defs/") if k == "$ref" else _local_refs(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_local_refs(v) for v in schema]
    return schema


def test_asyncapi_names_every_event_with_its_direction() -> None:
    document = asyncapi.DOCUMENT
    assert document["asyncapi"] == "3.0.0"
    root = document["channels"]["root"]["messages"]
    assert {m["name"] for m in root.values()} >= {"session:join", "participant:joined"}
    for operation in document["operations"].values():
        channel = operation["channel"]["$ref"].rsplit("/", 1)[1]
        message = operation["messages"][0]["$ref"].rsplit("/", 1)[1]
        assert message in document["channels"][channel]["messages"]


async def test_the_documents_and_the_page_are_served(client: Client) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"] == "3.1.0"
    assert "/api/openapi.json" in document["paths"]
    assert "/api/sessions/{session_id}" in document["paths"]

    response = await client.get("/api/asyncapi.json")
    assert response.status == 200
    assert (await response.json())["asyncapi"] == "3.0.0"

    page = await client.get("/api/docs")
    assert page.status == 200
    assert page.content_type == "text/html"
    html = await page.text()
    assert '<redoc spec-url="/api/openapi.json">' in html
    # No CDN: the one script is ours, and the policy allows no other origin.
    assert re.findall(r'src="([^"]+)"', html) == ["/api/docs/redoc.standalone.js"]
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "http" not in policy

    script = await client.get(
        "/api/docs/redoc.standalone.js", headers={"Accept-Encoding": "identity"}
    )
    assert script.status == 200
    assert script.content_type == "text/javascript"
    body = await script.read()
    assert body == (DOCS / "redoc.standalone.js").read_bytes()
    assert gzip.decompress((DOCS / "redoc.standalone.js.gz").read_bytes()) == body


@pytest.mark.parametrize(
    "name", ["redoc.standalone.js.LICENSE.txt", "..%2Fdist%2Findex.html", ".hidden.js", "x.js"]
)
async def test_the_page_serves_nothing_but_its_script(client: Client, name: str) -> None:
    response = await client.get(f"/api/docs/{name}")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_asyncapi_lists_exactly_the_events_the_server_handles(client: Client) -> None:
    from collab.state import REALTIME

    handlers: dict[str, dict[str, Any]] = client.app[REALTIME].sio.handlers
    root = set(handlers["/"]) - {"connect", "disconnect"}
    documents = set(handlers["*"]) - {"connect", "disconnect"}
    assert root == set(asyncapi.ROOT_CLIENT)
    assert documents == set(asyncapi.DOCUMENT_CLIENT)
