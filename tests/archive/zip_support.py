"""Building zips for tests, hostile ones included, and reading a session's files back."""

from __future__ import annotations

import io
import stat
import warnings
import zipfile
from collections.abc import Mapping
from typing import Any

from tests.support import Client


def make_zip(
    files: Mapping[str, bytes | str],
    *,
    symlinks: dict[str, str] | None = None,
    twice: tuple[str, ...] = (),
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        for name in twice:  # the same name again (zipfile warns; hostile archives do it)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                archive.writestr(name, "again")
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


async def texts(client: Client, session_id: str, headers: dict[str, str]) -> dict[str, str]:
    response = await client.get(f"/api/sessions/{session_id}/files", headers=headers)
    assert response.status == 200, await response.text()
    result: dict[str, str] = {}
    for info in await response.json():
        read = await client.get(f"/api/sessions/{session_id}/files/{info['path']}", headers=headers)
        assert read.status == 200
        result[info["path"]] = await read.text()
    return result


async def import_zip(
    client: Client, session_id: str, headers: dict[str, str], data: bytes
) -> tuple[int, Any]:
    response = await client.post(
        f"/api/sessions/{session_id}/import",
        data=data,
        headers=headers | {"Content-Type": "application/zip"},
    )
    return response.status, await response.json()
