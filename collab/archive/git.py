"""Running the `git` binary against a workspace's remote, in a throw-away directory.

Only https remotes, and only hosts that pass the webhook SSRF rules (loopback, private,
link-local and metadata addresses are refused) unless listed in `COLLAB_GIT_ALLOWED_HOSTS`.
git runs with no shell, no prompt, no credential helper, no system or global config, no
redirects and no protocol but https; the token goes in an `Authorization: Basic` header
passed through the environment (never in the URL or the command line, so never in `ps`).
Symlinks and submodules of a remote are never followed: checkouts write symlinks as plain
files and the tree is read by mode from git's index.

A name resolved at the check may resolve elsewhere when git connects (DNS rebinding): the
check narrows the door, it does not close it (see docs/import-export-git.md).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from pathlib import Path

from collab.archive.zips import BadArchive, Limits, folder_clash
from collab.documents.paths import InvalidPath, normalise_path
from collab.webhooks.ssrf import RefusedUrl, host_refusal, parse_url, resolved_refusal

_STDERR_TAIL = 2000


class GitFailed(Exception):
    """git could not do it (remote unreachable, refused, no such branch...)."""


class RemoteRefused(ValueError):
    """The remote is not one the server will contact."""


class PushRejected(Exception):
    """The remote branch moved on since (a pull is needed first)."""


@dataclass(frozen=True)
class Remote:
    url: str
    branch: str
    username: str = "x-access-token"
    token: str | None = None


@dataclass
class Tree:
    files: dict[str, str]
    skipped: dict[str, str] = field(default_factory=dict)  # path → why it was not taken
    commit: str = ""


async def check_remote(url: str, allowed: Collection[str]) -> None:
    """RemoteRefused unless it is an https URL whose host the server may contact."""
    try:
        target = parse_url(url)
    except RefusedUrl as exc:
        raise RemoteRefused(str(exc)) from None
    if target.scheme != "https":
        raise RemoteRefused("The server pulls and pushes over https only.")
    reason = host_refusal(target.host, allowed)
    if reason is None:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                target.host, target.port, type=socket.SOCK_STREAM
            )
        except OSError:
            raise RemoteRefused(f"The host {target.host} does not resolve.") from None
        reason = resolved_refusal(target.host, [str(i[4][0]) for i in infos], allowed)
    if reason is not None:
        raise RemoteRefused(f"The server does not contact {target.host}: {reason}.")


class Git:
    def __init__(self, timeout: float, ca_file: Path | None = None) -> None:
        self._timeout = timeout
        self._ca_file = ca_file

    def _env(self, home: Path, remote: Remote) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_ALLOW_PROTOCOL": "https",
            "LC_ALL": "C",
        }
        if self._ca_file is not None:
            env["GIT_SSL_CAINFO"] = str(self._ca_file)
        config = [
            ("credential.helper", ""),
            ("http.followRedirects", "false"),
            ("core.symlinks", "false"),
            ("core.hooksPath", os.devnull),
            ("transfer.fsckObjects", "true"),
        ]
        if remote.token:
            basic = base64.b64encode(f"{remote.username}:{remote.token}".encode()).decode()
            config.append(("http.extraHeader", f"Authorization: Basic {basic}"))
        env["GIT_CONFIG_COUNT"] = str(len(config))
        for i, (key, value) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key, value
        return env

    async def _run(self, cwd: Path, env: dict[str, str], *args: str) -> str:
        return (await self._run_bytes(cwd, env, *args)).decode(errors="replace")

    async def _run_bytes(self, cwd: Path, env: dict[str, str], *args: str) -> bytes:
        process = await asyncio.create_subprocess_exec(
            "git",
            *args,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), self._timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise GitFailed(f"git {args[0]} took longer than {self._timeout:g} s") from None
        if process.returncode != 0:
            message = err.decode(errors="replace").strip()[-_STDERR_TAIL:]
            if args[0] == "push" and ("[rejected]" in message or "non-fast-forward" in message):
                raise PushRejected(message)
            raise GitFailed(f"git {args[0]} failed: {message}")
        return out

    @contextlib.asynccontextmanager
    async def _checkout(
        self, remote: Remote, *, may_be_new: bool
    ) -> AsyncIterator[tuple[Path, dict[str, str], str | None]]:
        """A shallow clone of the branch in a temporary directory (an empty repository
        with the remote as origin when the branch does not exist yet and `may_be_new`)."""
        home = Path(tempfile.mkdtemp(prefix="collab-git-"))
        try:
            env = self._env(home, remote)
            work = home / "work"
            heads = await self._run(home, env, "ls-remote", "--heads", remote.url, remote.branch)
            wanted = f"refs/heads/{remote.branch}"
            head = next(
                (line.split("\t")[0] for line in heads.splitlines() if line.endswith(wanted)),
                None,
            )
            if head is not None:
                await self._run(
                    home, env, "clone", "--quiet", "--depth", "1", "--single-branch",
                    "--no-tags", "--branch", remote.branch, remote.url, str(work),
                )  # fmt: skip
            elif may_be_new:
                work.mkdir()
                await self._run(work, env, "init", "--quiet", "-b", remote.branch)
                await self._run(work, env, "remote", "add", "origin", remote.url)
            else:
                raise GitFailed(f"The remote has no branch {remote.branch!r}.")
            # The repository moves out of the work tree, and every later command names it:
            # nothing written into the work tree (workspace files) can ever be read by git as
            # its own configuration or hooks.
            repository = home / "repo.git"
            (work / ".git").rename(repository)
            env = env | {"GIT_DIR": str(repository), "GIT_WORK_TREE": str(work)}
            yield work, env, head
        finally:
            await asyncio.to_thread(shutil.rmtree, home, True)

    async def _read_tree(self, work: Path, env: dict[str, str], limits: Limits) -> Tree:
        tree = Tree({})
        listing = await self._run_bytes(work, env, "ls-files", "-s", "-z")
        total = 0
        for entry in filter(None, listing.split(b"\0")):
            raw_meta, raw_name = entry.split(b"\t", 1)
            mode = raw_meta.decode("ascii", errors="replace").split(" ", 1)[0]
            try:
                name = raw_name.decode()
            except UnicodeDecodeError:
                # Its bytes are no file name of ours (and, decoded with replacements, no
                # name on disk either): listed, never read.
                tree.skipped[raw_name.decode(errors="replace")] = "a name that is not UTF-8"
                continue
            if mode == "120000":
                tree.skipped[name] = "a symbolic link"
                continue
            if mode == "160000":
                tree.skipped[name] = "a submodule"
                continue
            try:
                path = normalise_path(name)
            except InvalidPath as exc:
                tree.skipped[name] = str(exc)
                continue
            size = (work / name).stat().st_size
            if size > limits.max_file_bytes:
                tree.skipped[path] = f"larger than {limits.max_file_bytes} bytes"
                continue
            try:
                text = (work / name).read_bytes().decode()
            except UnicodeDecodeError:
                tree.skipped[path] = "not UTF-8 text"
                continue
            total += size
            if len(tree.files) + 1 > limits.max_files or total > limits.max_unpacked_bytes:
                raise BadArchive(
                    f"the branch holds more than {limits.max_files} text files or "
                    f"{limits.max_unpacked_bytes} bytes",
                    name,
                    too_large=True,
                )
            tree.files[path] = text
        return tree

    async def pull(self, remote: Remote, limits: Limits) -> Tree:
        """The branch's text files (others listed in `skipped`)."""
        async with self._checkout(remote, may_be_new=False) as (work, env, _):
            tree = await self._read_tree(work, env, limits)
            tree.commit = (await self._run(work, env, "rev-parse", "HEAD")).strip()
            return tree

    async def push(
        self,
        remote: Remote,
        files: dict[str, str],
        message: str,
        author: tuple[str, str],
        limits: Limits,
        base: str | None,
    ) -> tuple[str | None, str | None]:
        """Commit `files` on top of the branch and push: (the new commit or None when the
        branch already holds exactly these texts, the branch's head now). PushRejected
        when the branch exists and its head is not `base` (the commit last pulled or
        pushed): someone else's work would be overwritten. A text file of the branch that
        is not among `files` is deleted; files a pull would skip (binary...) are kept."""
        clash = folder_clash(files)
        if clash is not None:
            folder, inside = clash
            raise BadArchive(f"{folder!r} is both a file and the folder of {inside!r}", folder)
        async with self._checkout(remote, may_be_new=True) as (work, env, head):
            if head is not None and head != base:
                raise PushRejected("the branch has commits this workspace has not pulled")
            current = await self._read_tree(work, env, limits)
            for path in current.files:
                if path not in files:
                    await self._run(work, env, "rm", "--quiet", "--", path)
            for path, text in files.items():
                if any(part.lower() == ".git" for part in path.split("/")):
                    continue  # never git's own files (the path rules refuse them too)
                target = work / path
                kept = _file_above(work, path)
                if kept is not None:
                    raise BadArchive(
                        f"{kept!r} is a file of the branch that the workspace does not hold "
                        "(binary, a link or a submodule): it cannot also be a folder",
                        path,
                    )
                await asyncio.to_thread(_write, target, text)
                await self._run(work, env, "add", "--", path)
            if not (await self._run(work, env, "status", "--porcelain")).strip():
                return None, head
            name, email = author
            await self._run(
                work, env, "-c", f"user.name={name}", "-c", f"user.email={email}",
                "commit", "--quiet", "--no-verify", "-m", message,
            )  # fmt: skip
            await self._run(
                work, env, "push", "--quiet", "origin", f"HEAD:refs/heads/{remote.branch}"
            )
            commit = (await self._run(work, env, "rev-parse", "HEAD")).strip()
            return commit, commit


def _file_above(work: Path, path: str) -> str | None:
    """The folder of `path` (or one above it) that is something else than a folder in the
    checkout: a file of the branch the workspace files do not include (they cannot clash
    among themselves, `folder_clash`)."""
    parts = path.split("/")
    for end in range(1, len(parts)):
        above = work.joinpath(*parts[:end])
        if above.is_symlink() or (above.exists() and not above.is_dir()):
            return "/".join(parts[:end])
    return None


def _write(target: Path, text: str) -> None:
    # A path of the branch may be a symlink written as a plain file, or a folder: replace it.
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8", newline="")
