"""Export and import of a scope's files (a session's, or a workspace's).

Export streams a zip entry by entry (each file's current text, the newest in memory).
Import checks the whole archive first (`zips.read_archive`) and the file quota, and only
then writes, file by file, through `bulk.write_text`: a refused archive changes nothing.
A file of the archive replaces the text of the file with its path; other files stay.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from collab.archive.zips import BadArchive, Limits, ZipWriter, folder_clash, read_archive
from collab.documents.bulk import write_text
from collab.documents.service import DocumentService
from collab.model import DocumentKey
from kernel.errors import Unavailable

log = logging.getLogger(__name__)

Send = Callable[[bytes], Awaitable[None]]


class Archives:
    def __init__(self, documents: DocumentService, limits: Limits, max_files_per_scope: int):
        self._documents = documents
        self.limits = limits
        self._max_files = max_files_per_scope

    async def texts(self, scope: DocumentKey) -> dict[str, str]:
        """Every file's current text (git push and tests use it)."""
        result: dict[str, str] = {}
        for info in await self._documents.files(scope):
            text = await self._documents.text(_key(scope, info["path"]))
            if text is not None:
                result[info["path"]] = text
        return result

    async def export(self, scope: DocumentKey, send: Send) -> int:
        """Send the scope's files as a zip, one entry at a time; the number of files."""
        writer = ZipWriter()
        count = 0
        for info in await self._documents.files(scope):
            text = await self._documents.text(_key(scope, info["path"]))
            if text is None:  # deleted meanwhile
                continue
            modified = datetime.fromisoformat(info["updated_at"]).timestamp()
            await send(writer.add(info["path"], text, modified))
            count += 1
        await send(writer.close())
        return count

    async def read(self, data: bytes) -> dict[str, str]:
        # Inflating up to the unpacked limit takes a while: off the event loop.
        return await asyncio.to_thread(read_archive, data, self.limits)

    async def check_quota(self, scope: DocumentKey, paths: set[str]) -> None:
        existing = {info["path"] for info in await self._documents.files(scope)}
        clash = folder_clash(existing | paths, paths)
        if clash is not None:
            folder, inside = clash
            raise BadArchive(
                f"{folder!r} would be both a file and the folder of {inside!r}",
                folder if folder in paths else inside,
            )
        total = len(existing | paths)
        if total > self._max_files:
            raise BadArchive(
                f"the files would make {total}; a session holds at most {self._max_files}",
                too_large=True,
            )

    async def write(
        self, scope: DocumentKey, files: dict[str, str], author: uuid.UUID | None
    ) -> dict[str, Any]:
        """Write checked files; `{created, updated, unchanged}` (paths)."""
        await self.check_quota(scope, set(files))
        existing = {info["path"] for info in await self._documents.files(scope)}
        answer: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": []}
        for done, (path, text) in enumerate(sorted(files.items())):
            try:
                changed = await write_text(self._documents.rooms, _key(scope, path), text, author)
            except Exception as exc:
                # Everything was checked first, so only a failing dependency gets here.
                log.exception("writing %s stopped at %s", scope, path)
                raise Unavailable(
                    f"Writing stopped at {path} ({done} of {len(files)} files were written); "
                    "try again: written files are left as they are now.",
                    {"written": str(done), "stopped_at": path},
                ) from exc
            if path not in existing:
                answer["created"].append(path)
            elif changed:
                answer["updated"].append(path)
            else:
                answer["unchanged"].append(path)
        return dict(answer)


def _key(scope: DocumentKey, path: str) -> DocumentKey:
    return DocumentKey(scope.scope_id, path, scope.in_workspace)
