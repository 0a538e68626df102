"""One contract for the workspace-document store, run against every backend.

PostgreSQL JSONB always. MongoDB when COLLAB_TEST_MONGO_URL names a server: MongoDB cannot
be installed from this machine's package sources, so without it those runs are skipped,
and the skip says so in the test summary.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from collab.db import create_pool, migrate_up
from collab.workspace_documents.store import (
    DuplicateDocument,
    WorkspaceDocumentStore,
    new_document,
)

MONGO_URL = os.environ.get("COLLAB_TEST_MONGO_URL")
MONGO_SKIP = (
    "MongoDB backend not tested: MongoDB cannot be installed from this machine's package "
    "sources; set COLLAB_TEST_MONGO_URL=mongodb://host:27017 to run these tests against it"
)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=10)
    await migrate_up(pool)
    yield pool
    await pool.close()


@pytest.fixture(params=["postgres", "mongo"])
async def store(
    request: pytest.FixtureRequest, pool: asyncpg.Pool
) -> AsyncIterator[WorkspaceDocumentStore]:
    if request.param == "postgres":
        from collab.workspace_documents.postgres import PostgresWorkspaceDocuments

        yield PostgresWorkspaceDocuments(pool)
        return
    if not MONGO_URL:
        pytest.skip(MONGO_SKIP)
    from collab.workspace_documents.mongo import MongoWorkspaceDocuments

    database = f"collab_test_{uuid.uuid4().hex[:10]}"
    mongo = MongoWorkspaceDocuments(MONGO_URL, database)
    await mongo.start()
    yield mongo
    await mongo._client.drop_database(database)
    await mongo.close()


@pytest.fixture
async def workspace(pool: asyncpg.Pool) -> Any:
    """Workspace rows (PostgreSQL's foreign key wants them; MongoDB ignores them)."""

    async def make() -> uuid.UUID:
        name = uuid.uuid4().hex[:10]
        owner = await pool.fetchval(
            "INSERT INTO users (email, username, password_hash) VALUES ($1, $2, 'h') "
            "RETURNING user_id",
            f"{name}@example.org",
            f"u{name}",
        )
        ws_id: uuid.UUID = await pool.fetchval(
            "INSERT INTO workspaces (name, owner_id) VALUES ('w', $1) RETURNING ws_id", owner
        )
        return ws_id

    return make


async def created(store: WorkspaceDocumentStore, ws_id: uuid.UUID) -> dict[str, Any]:
    document = new_document(ws_id, uuid.uuid4(), "Project")
    await store.create(document)
    return document


async def test_create_and_read_back(store: WorkspaceDocumentStore, workspace: Any) -> None:
    ws_id = await workspace()
    document = await created(store, ws_id)
    assert await store.get(ws_id) == document
    assert await store.get(uuid.uuid4()) is None
    assert ws_id in await store.ws_ids()


async def test_one_document_per_workspace(store: WorkspaceDocumentStore, workspace: Any) -> None:
    ws_id = await workspace()
    await created(store, ws_id)
    with pytest.raises(DuplicateDocument):
        await created(store, ws_id)


async def test_set_parts_replaces_only_what_it_names(
    store: WorkspaceDocumentStore, workspace: Any
) -> None:
    ws_id = await workspace()
    before = await created(store, ws_id)
    assert await store.set_parts(ws_id, {"settings": {"theme": "dark"}, "tags": ["a", "b"]})
    after = await store.get(ws_id)
    assert after is not None
    assert after["settings"] == {"theme": "dark"} and after["tags"] == ["a", "b"]
    assert {k: v for k, v in after.items() if k not in ("settings", "tags")} == {
        k: v for k, v in before.items() if k not in ("settings", "tags")
    }
    assert await store.set_parts(uuid.uuid4(), {"tags": []}) is False


async def test_concurrent_updates_of_different_parts_are_all_kept(
    store: WorkspaceDocumentStore, workspace: Any
) -> None:
    ws_id = await workspace()
    await created(store, ws_id)
    await asyncio.gather(
        *(
            store.set_parts(ws_id, {part: value})
            for part, value in [
                ("settings", {"tab_size": 2}),
                ("tags", ["x"]),
                ("git", {"remote_url": "https://g/r.git", "branch": "main"}),
                ("collaboration", {"default_role": "viewer"}),
            ]
            * 10
        ),
        *(store.increment(ws_id, {"edits": 1}) for _ in range(30)),
    )
    document = await store.get(ws_id)
    assert document is not None
    assert document["settings"] == {"tab_size": 2} and document["tags"] == ["x"]
    assert document["git"]["branch"] == "main"
    assert document["collaboration"] == {"default_role": "viewer"}
    assert document["analytics"]["edits"] == 30


async def test_counters_add_up_exactly(store: WorkspaceDocumentStore, workspace: Any) -> None:
    ws_id = await workspace()
    await created(store, ws_id)
    await asyncio.gather(
        *(store.increment(ws_id, {"edits": 2, "active_minutes": 1}) for _ in range(50))
    )
    document = await store.get(ws_id)
    assert document is not None
    assert (document["analytics"]["edits"], document["analytics"]["active_minutes"]) == (100, 50)


async def test_file_entries_upsert_and_remove(
    store: WorkspaceDocumentStore, workspace: Any
) -> None:
    ws_id = await workspace()
    await created(store, ws_id)
    await asyncio.gather(
        *(
            store.put_file(
                ws_id,
                {
                    "path": f"src/{i}.py",
                    "language": "python",
                    "size": i,
                    "updated_at": "2026-01-01T00:00:00+00:00",
                },
            )
            for i in range(10)
        )
    )
    await store.put_file(
        ws_id,
        {
            "path": "src/3.py",
            "language": "python",
            "size": 333,
            "updated_at": "2026-01-02T00:00:00+00:00",
        },
    )
    await store.remove_file(ws_id, "src/5.py")
    document = await store.get(ws_id)
    assert document is not None
    files = {f["path"]: f["size"] for f in document["files"]}
    assert len(document["files"]) == 9 and files["src/3.py"] == 333 and "src/5.py" not in files


async def test_delete(store: WorkspaceDocumentStore, workspace: Any) -> None:
    ws_id = await workspace()
    await created(store, ws_id)
    assert await store.delete(ws_id) is True
    assert await store.get(ws_id) is None
    assert await store.delete(ws_id) is False
