"""What a session's dependency files may ask for (checked before anything is fetched), the
cache key, and the build container's file tree (owners and modes)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from config.runtimes import load_runtimes
from containers.dependency_files import DependencyFilesInvalid, plan_for, requirements
from containers.dependency_images import BuildJob, _context

RUNTIMES = load_runtimes()


def test_requirements_keep_package_lines_only() -> None:
    text = "# tools\nrequests>=2.0,<3  # http\n\nflask[async] == 3.0.0 ; python_version>'3'\nx\n"
    assert requirements(text) == (
        "requests>=2.0,<3\nflask[async] == 3.0.0 ; python_version>'3'\nx\n"
    )


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("--index-url http://evil/simple", "options are not accepted"),
        ("-r other.txt", "options are not accepted"),
        ("-e .", "options are not accepted"),
        ("--extra-index-url=http://x", "options are not accepted"),
        ("demo @ http://127.0.0.1/demo.whl", "is not a package requirement"),
        ("./local/package", "is not a package requirement"),
        ("git+https://example.org/x.git", "is not a package requirement"),
        ("/etc/passwd", "is not a package requirement"),
        ("demo \\", "options are not accepted"),
    ],
)
def test_requirements_refuse_what_leaves_the_index(line: str, says: str) -> None:
    with pytest.raises(DependencyFilesInvalid, match=says):
        requirements(f"ok==1\n{line}\n")


def _lock(resolved: object = "https://registry.npmjs.org/a/-/a-1.0.0.tgz", **extra: object) -> str:
    entry = {"version": "1.0.0", "resolved": resolved} | extra
    return json.dumps({"lockfileVersion": 3, "packages": {"": {}, "node_modules/a": entry}})


@pytest.mark.parametrize(
    ("package", "lock", "says"),
    [
        ({"dependencies": {"a": "file:../a"}}, _lock(), "only versions and ranges"),
        ({"dependencies": {"a": "user/repo"}}, _lock(), "only versions and ranges"),
        ({"dependencies": {"a": "git+ssh://x"}}, _lock(), "only versions and ranges"),
        ({"devDependencies": {"a": "npm:b@1"}}, _lock(), "only versions and ranges"),
        ({"dependencies": {"a": "^1.0.0"}}, _lock("file:/etc/a.tgz"), "only registry tarballs"),
        ({"dependencies": {"a": "^1.0.0"}}, _lock("git+https://x/a.git"), "only registry"),
        ({"dependencies": {"a": "^1.0.0"}}, _lock(link=True), "is a link"),
        ({"dependencies": {"a": "1"}}, json.dumps({"dependencies": {}}), "npm 6 or older"),
        ({"dependencies": {"a": "1"}}, "{nope", "not valid JSON"),
    ],
)
def test_package_files_refuse_what_leaves_the_registry(
    package: dict[str, object], lock: str, says: str
) -> None:
    files = {"package.json": json.dumps(package), "package-lock.json": lock}
    with pytest.raises(DependencyFilesInvalid, match=says):
        plan_for(RUNTIMES["javascript"], files)


def test_a_package_json_needs_its_lockfile_and_each_runtime_reads_its_own_file() -> None:
    with pytest.raises(DependencyFilesInvalid, match=r"needs its package-lock\.json"):
        plan_for(RUNTIMES["javascript"], {"package.json": "{}"})
    # A python session ignores package.json, a javascript one requirements.txt, html both.
    assert plan_for(RUNTIMES["python"], {"package.json": "{}"}) is None
    assert plan_for(RUNTIMES["javascript"], {"requirements.txt": "x"}) is None
    assert plan_for(RUNTIMES["html"], {"requirements.txt": "x", "package.json": "{}"}) is None
    ok = {"package.json": '{"dependencies": {"a": "^1.0.0"}}', "package-lock.json": _lock()}
    plan = plan_for(RUNTIMES["javascript"], ok)
    assert plan is not None and plan.kind == "javascript"


def test_the_cache_key_follows_files_image_and_index_not_comments() -> None:
    one = plan_for(RUNTIMES["python"], {"requirements.txt": "demo==1.0\n"})
    commented = plan_for(RUNTIMES["python"], {"requirements.txt": "# hi\ndemo==1.0  # x\n"})
    other = plan_for(RUNTIMES["python"], {"requirements.txt": "demo==2.0\n"})
    assert one is not None and commented is not None and other is not None
    key = one.key("sha256:a", "https://pypi.org/simple")
    assert commented.key("sha256:a", "https://pypi.org/simple") == key
    assert other.key("sha256:a", "https://pypi.org/simple") != key
    assert one.key("sha256:b", "https://pypi.org/simple") != key
    assert one.key("sha256:a", "https://mirror.example/simple") != key


def test_the_build_tree_is_the_users_below_its_directories_and_roots_above(
    tmp_path: Path,
) -> None:
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / "a.whl").write_bytes(b"wheel")
    job = BuildJob(
        deployment_id="d",
        base_image="img",
        image="out:tag",
        user="65534:65534",
        memory_bytes=1,
        cpus=1,
        pids=1,
        command=("true",),
        dirs=("/tmp/collab-build", "/opt/collab-deps/python"),
        trees=(("/tmp/collab-build/wheels", tmp_path / "wheels"),),
        texts=(("/tmp/collab-build/requirements.txt", "a\n"),),
        links=(("/node_modules", "/opt/collab-deps/node/node_modules"),),
    )
    buffer = io.BytesIO()
    _context(job, buffer)
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as tar:
        owners = {m.name: (m.uid, m.mode & 0o7777) for m in tar.getmembers()}
        link = tar.getmember("node_modules")
    assert owners["tmp"] == (0, 0o1777)
    assert owners["opt"] == (0, 0o755) and owners["opt/collab-deps"] == (0, 0o755)
    for mine in (
        "tmp/collab-build",
        "opt/collab-deps/python",
        "tmp/collab-build/wheels",
        "tmp/collab-build/wheels/a.whl",
        "tmp/collab-build/requirements.txt",
    ):
        assert owners[mine][0] == 65534, mine
    assert link.issym() and link.linkname == "/opt/collab-deps/node/node_modules"
