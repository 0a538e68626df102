"""Hostile JSON against every kind of JSON route: each is a 400 in the contract's shape,
never a 500, and nothing is written. And a workspace-document change is stored with its
audit entry or not at all.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import asyncpg
import pytest

from collab.state import WORKSPACE_DOCUMENTS
from kernel.context import Actor, ClientInfo
from kernel.errors import ValidationFailed
from kernel.validation import MAX_JSON_DEPTH
from tests.accounts_support import STRONG_PASSWORD, bearer
from tests.support import Client
from tests.workspace_support import Person, person, workspace


async def send(client: Client, method: str, path: str, raw: str | bytes, who: Person | None) -> Any:
    headers = {"Content-Type": "application/json"} | (bearer(who.pair) if who else {})
    response = await getattr(client, method)(path, data=raw, headers=headers)
    return response.status, await response.json()


def nested(depth: int) -> str:
    """A JSON value `depth` containers deep: [[[...{}...]]]."""
    return "[" * (depth - 1) + "{}" + "]" * (depth - 1)


async def snapshot(db: asyncpg.Connection, ws: str) -> tuple[Any, ...]:
    """What a refused change must leave alone: the document, the name and the audit log."""
    return (
        await db.fetchval(
            "SELECT document::text FROM workspace_documents WHERE ws_id = $1::uuid", ws
        ),
        await db.fetchval("SELECT name FROM workspaces WHERE ws_id = $1::uuid", ws),
        await db.fetchval(
            "SELECT count(*) FROM audit_logs WHERE action = 'workspace.document_updated'"
        ),
    )


def refused_as_invalid_json(status: int, body: Any) -> None:
    assert status == 400, body
    assert set(body) == {"error"} and body["error"]["code"] == "invalid_json", body
    assert isinstance(body["error"]["message"], str)


@pytest.mark.parametrize(
    ("method", "path", "authenticated"),
    [
        ("post", "/api/auth/register", False),
        ("post", "/api/auth/login", False),
        ("post", "/api/workspaces", True),
        ("patch", "/api/workspaces/{ws}/document", True),
    ],
)
async def test_a_megabyte_of_brackets_is_invalid_json_and_cheap(
    client: Client, method: str, path: str, authenticated: bool
) -> None:
    owner = await person(client, "brackets")
    ws = await workspace(owner)
    started = time.monotonic()
    for raw in ("[" * 1_000_000, '{"a": ' + "[" * 999_990, nested(5000)):
        status, body = await send(
            client, method, path.format(ws=ws), raw, owner if authenticated else None
        )
        refused_as_invalid_json(status, body)
        assert "deep" in body["error"]["message"]
    assert time.monotonic() - started < 5


async def test_nesting_is_bounded_and_brackets_inside_strings_do_not_count(
    client: Client,
) -> None:
    owner = await person(client, "depth")
    ws = await workspace(owner)
    path = f"/api/workspaces/{ws}/document"
    # The body itself is one level: settings may hold MAX_JSON_DEPTH - 2 more below "a".
    deepest = '{"settings": {"a": ' + nested(MAX_JSON_DEPTH - 2) + "}}"
    status, body = await send(client, "patch", path, deepest, owner)
    assert status == 200, body
    too_deep = '{"settings": {"a": ' + nested(MAX_JSON_DEPTH - 1) + "}}"
    refused_as_invalid_json(*await send(client, "patch", path, too_deep, owner))
    brackets = '{"settings": {"a": "' + "[{" * 3000 + '\\"[["}}'
    status, body = await send(client, "patch", path, brackets, owner)
    assert status == 200, body
    assert body["settings"]["a"].startswith("[{[{")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
async def test_non_finite_numbers_are_invalid_json(
    client: Client, db: asyncpg.Connection, constant: str
) -> None:
    owner = await person(client, "nonfinite")
    ws = await workspace(owner)
    before = await snapshot(db, ws)
    raw = '{"settings": {"tab_size": ' + constant + "}}"
    status, body = await send(client, "patch", f"/api/workspaces/{ws}/document", raw, owner)
    refused_as_invalid_json(status, body)
    assert await snapshot(db, ws) == before


@pytest.mark.parametrize(
    "hostile",
    [
        r'{"theme": "dark\ud800"}',  # a lone high surrogate in a value
        r'{"\udfff": 1}',  # a lone low surrogate in a key
        r'{"list": ["ok", {"deep": "\udc00\ud800"}]}',  # reversed pair, nested
    ],
)
async def test_lone_surrogates_are_invalid_json(
    client: Client, db: asyncpg.Connection, hostile: str
) -> None:
    owner = await person(client, "surrogate")
    ws = await workspace(owner)
    before = await snapshot(db, ws)
    raw = '{"settings": ' + hostile + "}"
    status, body = await send(client, "patch", f"/api/workspaces/{ws}/document", raw, owner)
    refused_as_invalid_json(status, body)
    assert await snapshot(db, ws) == before


async def test_a_lone_surrogate_in_an_account_field_creates_no_account(
    client: Client, db: asyncpg.Connection
) -> None:
    raw = (
        '{"email": "sur@example.org", "username": "sur", "password": "'
        + STRONG_PASSWORD
        + r'", "first_name": "Ann\ud83d"}'
    )
    refused_as_invalid_json(*await send(client, "post", "/api/auth/register", raw, None))
    assert await db.fetchval("SELECT count(*) FROM users WHERE username = 'sur'") == 0


async def test_a_surrogate_pair_is_a_character_and_welcome(client: Client) -> None:
    owner = await person(client, "emoji")
    ws = await workspace(owner)
    raw = r'{"settings": {"icon": "\ud83d\ude00"}}'
    status, body = await send(client, "patch", f"/api/workspaces/{ws}/document", raw, owner)
    assert status == 200, body
    assert body["settings"]["icon"] == "\N{GRINNING FACE}"


async def test_deep_settings_are_refused_before_anything_is_written(
    client: Client, db: asyncpg.Connection
) -> None:
    """The reported attack: settings 900 deep answered 500, stored, and left no audit entry."""
    owner = await person(client, "deep")
    ws = await workspace(owner)
    before = await snapshot(db, ws)
    raw = '{"name": "Renamed", "settings": {"a": ' + nested(900) + "}}"
    status, body = await send(client, "patch", f"/api/workspaces/{ws}/document", raw, owner)
    refused_as_invalid_json(status, body)
    assert await snapshot(db, ws) == before


async def test_the_document_service_bounds_settings_nesting_itself(
    client: Client, db: asyncpg.Connection
) -> None:
    """Callers that do not come through `read_json` meet the same bound in validation."""
    owner = await person(client, "service")
    ws = await workspace(owner)
    before = await snapshot(db, ws)
    deep: dict[str, Any] = {}
    for _ in range(900):
        deep = {"a": deep}
    who = Actor(uuid.UUID(owner.id), ClientInfo("127.0.0.1", "test"))
    with pytest.raises(ValidationFailed) as refused:
        await client.app[WORKSPACE_DOCUMENTS].change(who, uuid.UUID(ws), {"settings": deep})
    assert "nested" in refused.value.details["settings"]  # type: ignore[index]
    assert await snapshot(db, ws) == before


async def test_a_change_whose_audit_entry_fails_is_not_stored(
    client: Client, db: asyncpg.Connection
) -> None:
    """The change and its audit entry are one transaction: no audit, no change."""
    owner = await person(client, "atomic")
    ws = await workspace(owner)
    before = await snapshot(db, ws)
    await db.execute(
        """CREATE FUNCTION refuse_document_audit() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
               IF NEW.action = 'workspace.document_updated' THEN
                   RAISE EXCEPTION 'audit log unavailable';
               END IF;
               RETURN NEW;
           END $$;
           CREATE TRIGGER refuse_document_audit BEFORE INSERT ON audit_logs
               FOR EACH ROW EXECUTE FUNCTION refuse_document_audit();"""
    )
    status, body = await owner.call(
        "patch",
        f"/api/workspaces/{ws}/document",
        {"name": "Unaudited", "settings": {"theme": "dark"}, "tags": ["x"]},
    )
    assert status == 500 and body["error"]["code"] == "internal_error", body
    assert await snapshot(db, ws) == before
    await db.execute("DROP TRIGGER refuse_document_audit ON audit_logs")
    status, body = await owner.call(
        "patch", f"/api/workspaces/{ws}/document", {"settings": {"theme": "dark"}}
    )
    assert status == 200 and body["settings"] == {"theme": "dark"}
    assert (await snapshot(db, ws))[2] == before[2] + 1
