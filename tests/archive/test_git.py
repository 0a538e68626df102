"""Git pull and push against a bare repository served by git's own smart HTTP on loopback."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.archive.git_server import TOKEN, git, git_workspace, serve
from tests.archive.zip_support import import_zip, make_zip
from tests.support import Client
from tests.workspace_support import Person, member, person, workspace


@pytest.fixture
async def remote(tmp_path: Path) -> AsyncIterator[tuple[str, Path, Path]]:
    """(URL of repo.git, its bare folder, the CA file) with one commit on main."""
    root, seed = tmp_path / "repos", tmp_path / "seed"
    root.mkdir()
    seed.mkdir()
    git(root, "init", "--quiet", "--bare", "-b", "main", "repo.git")
    git(seed, "init", "--quiet", "-b", "main")
    (seed / "src").mkdir()
    (seed / "README.md").write_text("# Repo\n")
    (seed / "src" / "app.py").write_text("print('hi')\n")
    (seed / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    (seed / "link").symlink_to("/etc/passwd")
    git(seed, "add", "-A")
    git(seed, "commit", "--quiet", "-m", "first")
    git(seed, "push", "--quiet", str(root / "repo.git"), "main")
    runner, base, ca_file = await serve(root, tmp_path)
    yield f"{base}/repo.git", root / "repo.git", ca_file
    await runner.cleanup()


async def _files(owner: Person, ws: str) -> dict[str, str]:
    response = await owner.client.get(
        f"/api/workspaces/{ws}/archive.zip",
        headers={"Authorization": f"Bearer {owner.pair['access_token']}"},
    )
    assert response.status == 200
    with zipfile.ZipFile(io.BytesIO(await response.read())) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}


def _clone(bare: Path, into: Path) -> Path:
    git(into.parent, "clone", "--quiet", str(bare), into.name)
    return into


async def test_pull_then_push(
    make_client: Any, remote: tuple[str, Path, Path], tmp_path: Path
) -> None:
    url, bare, ca_file = remote
    client = await make_client(git_allowed_hosts=("127.0.0.1",), git_ca_file=ca_file)
    owner = await person(client, "gitowner")
    ws = await git_workspace(owner, url)

    status, pulled = await owner.call("post", f"/api/workspaces/{ws}/git/pull")
    assert status == 200, pulled
    assert sorted(pulled["created"]) == ["README.md", "src/app.py"]
    assert set(pulled["skipped"]) == {"logo.png", "link"}
    assert len(pulled["commit"]) == 40
    assert await _files(owner, ws) == {"README.md": "# Repo\n", "src/app.py": "print('hi')\n"}

    # Edit through a session of the workspace: change one file, add one.
    status, session = await owner.call(
        "post", "/api/sessions", {"name": "S", "language": "python", "ws_id": ws}
    )
    assert status == 201
    headers = {"Authorization": f"Bearer {owner.pair['access_token']}"}
    status, _ = await import_zip(
        client,
        session["session_id"],
        headers,
        make_zip({"src/app.py": "print('hello')\n", "docs/notes.md": "notes 😀\n"}),
    )
    assert status == 200

    status, pushed = await owner.call(
        "post", f"/api/workspaces/{ws}/git/push", {"message": "Edited in collab"}
    )
    assert status == 200, pushed
    assert pushed["pushed"] is True
    pushed_commit = pushed["commit"]
    checkout = _clone(bare, tmp_path / "check")
    assert (checkout / "src" / "app.py").read_text() == "print('hello')\n"
    assert (checkout / "docs" / "notes.md").read_text() == "notes 😀\n"
    assert (checkout / "logo.png").read_bytes() == b"\x89PNG\r\n\x1a\n\xff\xfe"  # kept
    assert (checkout / "link").is_symlink()  # kept
    log = git(checkout, "log", "-1", "--format=%H %an <%ae> %s")
    assert log.strip() == f"{pushed['commit']} gitowner <gitowner@example.org> Edited in collab"

    # Nothing new: nothing pushed.
    status, again = await owner.call("post", f"/api/workspaces/{ws}/git/push", {"message": "x"})
    assert status == 200 and again == {"pushed": False, "commit": None}

    # Someone pushes meanwhile: our push is refused (409) until a pull brings it in.
    (checkout / "README.md").write_text("# Repo, edited elsewhere\n")
    git(checkout, "commit", "--quiet", "-am", "elsewhere")
    git(checkout, "push", "--quiet", "origin", "main")
    status, body = await owner.call("post", f"/api/workspaces/{ws}/git/push", {"message": "stale"})
    assert status == 409 and body["error"]["code"] == "conflict", body
    assert git(checkout, "log", "-1", "--format=%s").strip() == "elsewhere"
    status, pulled = await owner.call("post", f"/api/workspaces/{ws}/git/pull")
    assert status == 200 and pulled["updated"] == ["README.md"], pulled
    assert (await _files(owner, ws))["README.md"] == "# Repo, edited elsewhere\n"
    status, pushed = await owner.call("post", f"/api/workspaces/{ws}/git/push", {"message": "m"})
    assert status == 200 and pushed == {"pushed": False, "commit": None}, pushed

    # Every pull and every push that changed the branch is in the workspace's audit log.
    status, page = await owner.call("get", f"/api/workspaces/{ws}/audit-logs?limit=100")
    assert status == 200, page
    git_entries = [e for e in page["items"] if e["action"].startswith("git.")]
    assert [e["action"] for e in reversed(git_entries)] == [
        "git.pulled",
        "git.pushed",
        "git.pulled",
    ]
    first_pull, push, second_pull = reversed(git_entries)
    assert first_pull["new_value"] == {
        "remote_url": url, "branch": "main", "commit": first_pull["new_value"]["commit"],
        "created": 2, "updated": 0, "unchanged": 0,
    }  # fmt: skip
    assert push["new_value"]["commit"] == pushed_commit
    assert second_pull["new_value"]["updated"] == 1
    assert all(e["user_id"] == owner.id for e in git_entries)


async def test_a_new_branch_is_created_but_an_unpulled_one_is_not_overwritten(
    make_client: Any, remote: tuple[str, Path, Path], tmp_path: Path
) -> None:
    url, bare, ca_file = remote
    client = await make_client(git_allowed_hosts=("127.0.0.1",), git_ca_file=ca_file)
    owner = await person(client, "gitowner4")
    ws = await git_workspace(owner, url)
    status, session = await owner.call(
        "post", "/api/sessions", {"name": "S", "language": "python", "ws_id": ws}
    )
    headers = {"Authorization": f"Bearer {owner.pair['access_token']}"}
    status, _ = await import_zip(
        client, session["session_id"], headers, make_zip({"new.py": "x = 1\n"})
    )
    assert status == 200
    # main exists and was never pulled here: refused.
    status, body = await owner.call("post", f"/api/workspaces/{ws}/git/push", {"message": "m"})
    assert status == 409, body
    status, body = await owner.call(
        "patch",
        f"/api/workspaces/{ws}/document",
        {"git": {"remote_url": url, "branch": "feature/x"}},
    )
    assert status == 200, body
    status, pushed = await owner.call("post", f"/api/workspaces/{ws}/git/push", {"message": "m"})
    assert status == 200 and pushed["pushed"], pushed
    checkout = _clone(bare, tmp_path / "feature")
    git(checkout, "checkout", "--quiet", "feature/x")
    assert (checkout / "new.py").read_text() == "x = 1\n"
    assert not (checkout / "README.md").exists()


async def test_refusals(make_client: Any, remote: tuple[str, Path, Path]) -> None:
    url, _, ca_file = remote
    client = await make_client(git_allowed_hosts=("127.0.0.1",), git_ca_file=ca_file)
    owner = await person(client, "gitowner2")

    # A wrong token: git's refusal, as 502 git_failed.
    ws = await git_workspace(owner, url, token="wrong-token")
    status, body = await owner.call("post", f"/api/workspaces/{ws}/git/pull")
    assert status == 502 and body["error"]["code"] == "git_failed", body
    assert "wrong-token" not in body["error"]["message"]

    # No remote.
    bare_ws = await workspace(owner)
    status, body = await owner.call("post", f"/api/workspaces/{bare_ws}/git/pull")
    assert status == 422 and "git.remote_url" in body["error"]["details"], body

    # Viewers may not; strangers see nothing.
    viewer, stranger = await person(client, "gitviewer"), await person(client, "gitstranger")
    await member(owner, ws, viewer, "viewer")
    status, body = await viewer.call("post", f"/api/workspaces/{ws}/git/pull")
    assert status == 403, body
    status, body = await stranger.call("post", f"/api/workspaces/{ws}/git/push", {"message": "m"})
    assert status == 404, body


async def test_loopback_remotes_are_refused_unless_allowed(
    client: Client, remote: tuple[str, Path, Path]
) -> None:
    url, _, _ = remote
    owner = await person(client, "gitowner3")
    ws = await git_workspace(owner, url)
    status, body = await owner.call("post", f"/api/workspaces/{ws}/git/pull")
    assert status == 422, body
    assert "loopback" in body["error"]["message"]
    assert await _files(owner, ws) == {}


async def test_a_workspace_file_can_never_become_gits_own_configuration(
    make_client: Any, remote: tuple[str, Path, Path], tmp_path: Path
) -> None:
    """Found in review: a workspace file `.git/config` was written into the checkout before
    `git add`, so its `core.fsmonitor` ran a command on the server at the next push."""
    url, _bare, ca_file = remote
    client = await make_client(git_allowed_hosts=("127.0.0.1",), git_ca_file=ca_file)
    owner = await person(client, "gitevil")
    ws = await git_workspace(owner, url)
    status, pulled = await owner.call("post", f"/api/workspaces/{ws}/git/pull")
    assert status == 200
    status, session = await owner.call(
        "post", "/api/sessions", {"name": "S", "language": "python", "ws_id": ws}
    )
    headers = {"Authorization": f"Bearer {owner.pair['access_token']}"}
    marker = tmp_path / "pwned"
    config = f'[core]\n\tfsmonitor = "touch {marker}"\n'
    for path in (".git/config", "src/.GIT/config"):
        zipped = make_zip({path: config})
        status, body = await import_zip(client, session["session_id"], headers, zipped)
        assert status == 422, body

    # And the push itself never lets a file of that name near git, whatever it is handed.
    from collab.archive.git import Git, Remote
    from collab.archive.zips import Limits

    files = await _files(owner, ws)
    done = await Git(30, ca_file).push(
        Remote(url, "main", "x-access-token", TOKEN),
        files | {".git/config": config, "a/.git/hooks/pre-commit": "#!/bin/sh\ntouch /tmp/x\n"},
        "try",
        ("evil", "evil@example.org"),
        Limits(100, 10_000_000, 1_000_000),
        pulled["commit"],
    )
    assert not marker.exists()
    assert done == (None, pulled["commit"])  # nothing to commit: the planted files were ignored
