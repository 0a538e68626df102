"""The whole central directory of an upload was parsed before its entries were
counted: a 17 MB zip of 200,000 empty entries cost about 100 MB and seconds of CPU (holding
the interpreter) per request, to be refused for having more than 1,000 files. Too many
entries are now refused before parsing."""

from __future__ import annotations

import io
import tracemalloc
import zipfile

import pytest

from collab.archive.zips import BadArchive, Limits, read_archive

LIMITS = Limits(max_files=1000, max_unpacked_bytes=50_000_000, max_file_bytes=2_000_000)


def _many(count: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for i in range(count):
            archive.writestr(zipfile.ZipInfo(f"{i:x}"), b"")
    return buffer.getvalue()


def test_an_archive_of_too_many_entries_is_refused_before_it_is_parsed() -> None:
    data = _many(200_000)
    tracemalloc.start()
    try:
        with pytest.raises(BadArchive) as refused:
            read_archive(data, LIMITS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert refused.value.too_large
    assert peak < 10_000_000, peak


def test_an_archive_at_the_limit_is_still_read() -> None:
    files = read_archive(_many(1000), LIMITS)
    assert len(files) == 1000
