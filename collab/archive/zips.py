"""Zip archives of files: written entry by entry for streaming, and checked whole before
anything of an uploaded one is used. Pure (no I/O beyond the bytes given).

An upload is refused, naming the entry, when an entry's path is absolute, climbs out
('..'), is a symlink, is encrypted, is not a path our file rules accept, repeats another's,
is not UTF-8 text, or when the archive holds too many files, unpacks to too much, or
compresses suspiciously well (a zip bomb). Sizes are checked as declared and again while
unpacking, since a forged header can understate them.
"""

from __future__ import annotations

import io
import stat
import time
import zipfile
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from collab.documents.paths import InvalidPath, normalise_path

# Source text compresses 3-10x; beyond this ratio an entry is treated as a bomb.
MAX_RATIO = 200
# Small entries may compress well by chance (a run of spaces); the ratio applies above this.
RATIO_FLOOR_BYTES = 64 * 1024


@dataclass(frozen=True)
class Limits:
    max_files: int
    max_unpacked_bytes: int
    max_file_bytes: int


class BadArchive(ValueError):
    """The archive is refused; `entry` names the entry at fault, when there is one."""

    def __init__(self, message: str, entry: str | None = None, *, too_large: bool = False):
        super().__init__(message)
        self.entry = entry
        self.too_large = too_large


class _Sink:
    """A write-only, non-seekable file for ZipFile that hands its bytes on as they come."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._written = 0

    def write(self, data: bytes) -> int:
        self._buffer += data
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self._buffer = bytes(self._buffer), bytearray()
        return data


class ZipWriter:
    """Add files one at a time; `take()` after each gives the bytes to send so far."""

    def __init__(self) -> None:
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(self._sink, "w", zipfile.ZIP_DEFLATED)  # type: ignore[call-overload]

    def add(self, path: str, text: str, modified: float | None = None) -> bytes:
        info = zipfile.ZipInfo(path, time.localtime(modified or time.time())[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = (stat.S_IFREG | 0o644) << 16
        self._zip.writestr(info, text.encode())
        return self._sink.take()

    def close(self) -> bytes:
        self._zip.close()
        return self._sink.take()


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _check_name(name: str) -> str:
    if "\\" in name:
        raise BadArchive("a path uses '\\' (only '/' separates folders)", name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise BadArchive("an absolute path", name)
    if ".." in name.split("/"):
        raise BadArchive("a path that climbs out with '..'", name)
    try:
        return normalise_path(name)
    except InvalidPath as exc:
        raise BadArchive(str(exc), name) from None


def folder_clash(
    paths: Iterable[str], new: Collection[str] | None = None
) -> tuple[str, str] | None:
    """(a file, a path inside it) when a path is both a file and a folder of others: no
    file system (a checkout, a container's /app) can hold both. With `new`, only a clash
    that one of those paths takes part in."""
    files = set(paths)
    for path in sorted(files):
        parts = path.split("/")
        for end in range(1, len(parts)):
            folder = "/".join(parts[:end])
            if folder in files and (new is None or folder in new or path in new):
                return folder, path
    return None


# The signature of an entry of the central directory. Counted before `zipfile` parses the
# directory, which costs about 500 bytes and 10 µs of CPU an entry: an upload of tiny entries
# is refused before that. (Folders are entries too; the allowance is generous for them, and
# for the signature appearing by chance in compressed data.)
_CENTRAL_ENTRY = b"PK\x01\x02"


def read_archive(data: bytes, limits: Limits) -> dict[str, str]:
    """Every file of the archive by normalised path, or BadArchive for the first fault."""
    if data.count(_CENTRAL_ENTRY) > 4 * limits.max_files + 64:
        raise BadArchive(f"more than {limits.max_files} files", too_large=True)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BadArchive(f"not a zip archive ({exc})") from None
    with archive:
        entries: list[tuple[zipfile.ZipInfo, str]] = []
        seen: dict[str, str] = {}
        declared = 0
        for info in archive.infolist():
            if _is_symlink(info):
                raise BadArchive("a symbolic link", info.filename)
            if info.is_dir():
                _check_name(info.filename.rstrip("/") or "/")
                continue
            if info.flag_bits & 0x1:
                raise BadArchive("an encrypted entry", info.filename)
            path = _check_name(info.filename)
            if path in seen:
                raise BadArchive(f"the same path as {seen[path]!r}", info.filename)
            seen[path] = info.filename
            if len(seen) > limits.max_files:
                raise BadArchive(
                    f"more than {limits.max_files} files", info.filename, too_large=True
                )
            if info.file_size > limits.max_file_bytes:
                raise BadArchive(
                    f"larger than {limits.max_file_bytes} bytes unpacked",
                    info.filename,
                    too_large=True,
                )
            if info.file_size > RATIO_FLOOR_BYTES and info.file_size > MAX_RATIO * max(
                info.compress_size, 1
            ):
                raise BadArchive(
                    f"compressed more than {MAX_RATIO} times (a zip bomb?)",
                    info.filename,
                    too_large=True,
                )
            declared += info.file_size
            if declared > limits.max_unpacked_bytes:
                raise BadArchive(
                    f"the files unpack to more than {limits.max_unpacked_bytes} bytes",
                    info.filename,
                    too_large=True,
                )
            entries.append((info, path))
        clash = folder_clash(seen)
        if clash is not None:
            raise BadArchive(f"a file named like the folder of {clash[1]!r}", seen[clash[0]])

        files: dict[str, str] = {}
        unpacked = 0
        for info, path in entries:
            # Declared sizes can lie: read no more than allowed, whatever the header says.
            room = min(limits.max_file_bytes, limits.max_unpacked_bytes - unpacked)
            try:
                with archive.open(info) as entry:
                    content = entry.read(room + 1)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
                raise BadArchive(f"a damaged entry ({exc})", info.filename) from None
            if len(content) > room:
                raise BadArchive(
                    "it unpacks to more than its header says (a zip bomb?)",
                    info.filename,
                    too_large=True,
                )
            unpacked += len(content)
            try:
                files[path] = content.decode()
            except UnicodeDecodeError:
                raise BadArchive("not UTF-8 text", info.filename) from None
        return files
