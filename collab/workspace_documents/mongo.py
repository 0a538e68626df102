"""The MongoDB backend, through PyMongo's async API (`AsyncMongoClient`).

One document per workspace in `mongo_workspaces`, with a unique index on `ws_id`. Updates
are single-document operators (`$set`, `$inc`, `$pull`/`$push` in an update pipeline),
which MongoDB applies atomically, so concurrent changes never overwrite each other.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from collab.workspace_documents.store import DuplicateDocument

COLLECTION = "mongo_workspaces"


class MongoWorkspaceDocuments:
    def __init__(self, url: str, database: str | None = None) -> None:
        self._client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            url, uuidRepresentation="standard", serverSelectionTimeoutMS=5000
        )
        db = self._client.get_default_database(default=database or "collab")
        self._docs = db[COLLECTION]

    async def start(self) -> None:
        await self._docs.create_index([("ws_id", ASCENDING)], unique=True)

    async def ping(self) -> None:
        await self._client.admin.command("ping")

    @staticmethod
    def _out(raw: dict[str, Any] | None) -> dict[str, Any] | None:
        if raw is None:
            return None
        raw.pop("_id", None)
        return raw

    async def create(self, document: dict[str, Any]) -> None:
        try:
            await self._docs.insert_one(dict(document))
        except DuplicateKeyError:
            raise DuplicateDocument(document["ws_id"]) from None

    async def get(self, ws_id: uuid.UUID) -> dict[str, Any] | None:
        return self._out(await self._docs.find_one({"ws_id": str(ws_id)}))

    async def set_parts(
        self,
        ws_id: uuid.UUID,
        parts: dict[str, Any],
        *,
        within: asyncpg.Connection | None = None,
    ) -> bool:
        """`within` is not ours to join: MongoDB writes on its own (see the service)."""
        result = await self._docs.update_one({"ws_id": str(ws_id)}, {"$set": parts})
        return result.matched_count == 1

    async def increment(self, ws_id: uuid.UUID, counters: dict[str, int]) -> None:
        await self._docs.update_one(
            {"ws_id": str(ws_id)},
            {"$inc": {f"analytics.{name}": value for name, value in counters.items()}},
        )

    async def put_file(self, ws_id: uuid.UUID, entry: dict[str, Any]) -> None:
        # One pipeline update: drop any entry with this path, append the new one, sort.
        await self._docs.update_one(
            {"ws_id": str(ws_id)},
            [
                {
                    "$set": {
                        "files": {
                            "$sortArray": {
                                "input": {
                                    "$concatArrays": [
                                        {
                                            "$filter": {
                                                "input": {"$ifNull": ["$files", []]},
                                                "as": "f",
                                                "cond": {"$ne": ["$$f.path", entry["path"]]},
                                            }
                                        },
                                        [{"$literal": entry}],
                                    ]
                                },
                                "sortBy": {"path": 1},
                            }
                        }
                    }
                }
            ],
        )

    async def remove_file(self, ws_id: uuid.UUID, path: str) -> None:
        await self._docs.update_one({"ws_id": str(ws_id)}, {"$pull": {"files": {"path": path}}})

    async def delete(self, ws_id: uuid.UUID) -> bool:
        result = await self._docs.delete_one({"ws_id": str(ws_id)})
        return result.deleted_count == 1

    async def ws_ids(self) -> set[uuid.UUID]:
        return {uuid.UUID(d["ws_id"]) async for d in self._docs.find({}, {"ws_id": 1})}

    async def close(self) -> None:
        await self._client.close()
