"""A remote branch whose tree holds odd file names (found in review)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.archive.git_server import git, git_workspace, serve
from tests.workspace_support import person


@pytest.fixture
async def odd_remote(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """A repository whose one commit holds a file named with bytes that are not UTF-8."""
    root, seed = tmp_path / "repos", tmp_path / "seed"
    root.mkdir()
    seed.mkdir()
    git(root, "init", "--quiet", "--bare", "-b", "main", "repo.git")
    git(seed, "init", "--quiet", "-b", "main")
    (seed / "README.md").write_text("# Repo\n")
    (seed / os.fsdecode(b"caf\xe9.txt")).write_text("latin-1 name\n")
    (seed / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    git(seed, "add", "-A")
    git(seed, "commit", "--quiet", "-m", "first")
    git(seed, "push", "--quiet", str(root / "repo.git"), "main")
    runner, base, ca_file = await serve(root, tmp_path)
    yield f"{base}/repo.git", ca_file
    await runner.cleanup()


async def test_a_file_name_that_is_not_utf8_is_skipped_not_a_500(
    make_client: Any, odd_remote: tuple[str, Path]
) -> None:
    url, ca_file = odd_remote
    client = await make_client(git_allowed_hosts=("127.0.0.1",), git_ca_file=ca_file)
    owner = await person(client, "gitodd")
    ws = await git_workspace(owner, url)
    status, pulled = await owner.call("post", f"/api/workspaces/{ws}/git/pull")
    assert status == 200, pulled
    assert pulled["created"] == ["README.md"]
    assert len(pulled["skipped"]) == 2, pulled

    # And a push keeps that file as it is (it is not the workspace's to delete or mangle).
    status, pushed = await owner.call("post", f"/api/workspaces/{ws}/git/push", {"message": "m"})
    assert status == 200 and pushed == {"pushed": False, "commit": None}, pushed


async def test_a_file_and_a_folder_of_the_same_name_is_refused_not_a_500(
    make_client: Any, odd_remote: tuple[str, Path]
) -> None:
    from tests.archive.zip_support import import_zip, make_zip

    url, ca_file = odd_remote
    client = await make_client(git_allowed_hosts=("127.0.0.1",), git_ca_file=ca_file)
    owner = await person(client, "gitclash")
    ws = await git_workspace(owner, url, branch="fresh")
    status, session = await owner.call(
        "post", "/api/sessions", {"name": "S", "language": "python", "ws_id": ws}
    )
    headers = {"Authorization": f"Bearer {owner.pair['access_token']}"}
    status, body = await import_zip(
        client, session["session_id"], headers, make_zip({"a": "file\n", "a/b": "nested\n"})
    )
    if status == 200:  # taken: then the push must refuse it cleanly
        status, body = await owner.call("post", f"/api/workspaces/{ws}/git/push", {"message": "m"})
    assert status == 422 and body["error"]["code"] == "invalid_archive", body


def test_folder_clash() -> None:
    from collab.archive.zips import folder_clash

    assert folder_clash(["a", "a/b"]) == ("a", "a/b")
    assert folder_clash(["a/b/c", "a/b", "x"]) == ("a/b", "a/b/c")
    assert folder_clash(["a", "ab/c", "a.b/c"]) is None
    assert folder_clash(["a", "a/b", "z"], new={"z"}) is None  # an old clash is not z's
    assert folder_clash(["a", "a/b", "a/b/c"], new={"a/b/c"}) == ("a", "a/b/c")


async def test_a_workspace_file_inside_a_kept_file_of_the_branch_is_refused_not_a_500(
    make_client: Any, odd_remote: tuple[str, Path]
) -> None:
    """`logo.png` is binary: a pull skips it and a push keeps it. A workspace file
    `logo.png/notes.txt` cannot be written under it (that answered 500)."""
    from tests.archive.zip_support import import_zip, make_zip

    url, ca_file = odd_remote
    client = await make_client(git_allowed_hosts=("127.0.0.1",), git_ca_file=ca_file)
    owner = await person(client, "gitkept")
    ws = await git_workspace(owner, url)
    status, pulled = await owner.call("post", f"/api/workspaces/{ws}/git/pull")
    assert status == 200, pulled
    status, session = await owner.call(
        "post", "/api/sessions", {"name": "S", "language": "python", "ws_id": ws}
    )
    headers = {"Authorization": f"Bearer {owner.pair['access_token']}"}
    status, body = await import_zip(
        client, session["session_id"], headers, make_zip({"logo.png/notes.txt": "n\n"})
    )
    assert status == 200, body
    status, body = await owner.call("post", f"/api/workspaces/{ws}/git/push", {"message": "m"})
    assert status == 422 and body["error"]["code"] == "invalid_archive", body
    assert body["error"]["details"]["entry"] == "logo.png/notes.txt"
