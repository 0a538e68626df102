"""File paths inside a session: what is a valid one, in one place."""

from __future__ import annotations

import re

MAX_PATH = 512
_SEGMENT = re.compile(r"^[^\x00-\x1f\\/]+$")


class InvalidPath(ValueError):
    pass


def normalise_path(path: str) -> str:
    """A relative POSIX path without '.', '..', empty segments, control characters or '\\'."""
    if not path or len(path) > MAX_PATH:
        raise InvalidPath(f"a file path is 1 to {MAX_PATH} characters")
    segments = path.strip("/").split("/")
    if any(s in ("", ".", "..") or not _SEGMENT.match(s) for s in segments):
        raise InvalidPath("a file path is a relative path without '.', '..' or control characters")
    # A folder named .git is git's own: a workspace file there would be git's configuration
    # when the workspace is pushed (collab/archive/git.py), and no IDE needs one.
    if any(s.lower() == ".git" for s in segments):
        raise InvalidPath("a file path may not have a '.git' folder or file in it")
    return "/".join(segments)
