"""Fetching dependencies on the server, from the operator's index only, running no
package code; and the build job that installs them offline.

Only the server process talks to the index (`COLLAB_DEPLOY_PIP_INDEX_URL`,
`COLLAB_DEPLOY_NPM_REGISTRY`), so the build container needs no network at all:
- python: `pip download --only-binary=:all:` into a wheelhouse (wheels only: building an
  sdist would run its setup code here). The build container then runs the server's own pip
  (copied in) with `--no-index --find-links`, into `/opt/collab-deps/python`, which the
  image's `PYTHONPATH` names.
- javascript: `npm ci --ignore-scripts` with a private cache and the registry host of every
  lockfile URL replaced by the operator's (`--replace-registry-host=always`); only its
  cache is kept. The build container runs the server's npm (copied in) as `npm ci
  --offline` from that cache in `/opt/collab-deps/node`, packages' install scripts
  included (there, not here); `/node_modules` links to it, where Node looks from `/app`
  (CommonJS and ES modules alike).
Both run with a clean environment (no user or global pip/npm configuration; proxy
variables pass through) and stream their output to `emit`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from config.runtimes import Runtime
from containers.dependency_files import Plan
from containers.dependency_images import BuildJob

BUILD_DIR = "/tmp/collab-build"  # noqa: S108 - inside the build container, deleted after
DEPS_DIR = "/opt/collab-deps"
_PASSED = (
    *("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"),
    *("SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "LANG"),
)


class FetchFailed(RuntimeError):
    """The fetch did not succeed; the message says why (the output has the details)."""


def _environment(home: Path) -> dict[str, str]:
    env = {name: os.environ[name] for name in _PASSED if name in os.environ}
    return env | {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PIP_CONFIG_FILE": os.devnull,
        "PYTHONNOUSERSITE": "1",
        # Empty files of their own (npm refuses one file for both).
        "npm_config_userconfig": str(home / "user.npmrc"),
        "npm_config_globalconfig": str(home / "global.npmrc"),
        "npm_config_update_notifier": "false",
    }


async def _run(argv: list[str], cwd: Path, home: Path, emit: Callable[[bytes], None]) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=_environment(home),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    try:
        while chunk := await process.stdout.read(4096):
            emit(chunk)
        code = await process.wait()
    finally:
        if process.returncode is None:  # cancelled (the time limit): the whole group goes
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            await process.wait()
    if code != 0:
        raise FetchFailed(f"{Path(argv[0]).name} {argv[1]} {argv[2]} exited with code {code}")


def pip_source() -> Path:
    spec = importlib.util.find_spec("pip")
    if spec is None or spec.origin is None:
        raise FetchFailed("pip is not installed beside the server")
    return Path(spec.origin).parent


def npm_source() -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise FetchFailed("npm is not installed on the server")
    root = Path(npm).resolve().parents[1]  # .../npm/bin/npm-cli.js
    if not (root / "bin" / "npm-cli.js").exists():
        raise FetchFailed(f"npm at {npm} is not a self-contained npm package")
    return root


async def fetch(
    plan: Plan,
    runtime: Runtime,
    index: str,
    into: Path,
    emit: Callable[[bytes], None],
) -> tuple[tuple[str, Path], ...]:
    """Fetch into `into` (a private directory); what to copy into the build container."""
    home = into / "home"
    home.mkdir()
    for empty in ("user.npmrc", "global.npmrc"):
        (home / empty).touch()
    for name, text in plan.files:
        (into / name).write_text(text)
    if plan.kind == "python":
        wheels = into / "wheels"
        wheels.mkdir()
        await _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--only-binary=:all:",
                "--no-input",
                "--disable-pip-version-check",
                "--no-cache-dir",
                "--progress-bar",
                "off",
                "--index-url",
                index,
                "--dest",
                str(wheels),
                "-r",
                str(into / "requirements.txt"),
            ],
            into,
            home,
            emit,
        )
        return ((f"{BUILD_DIR}/wheels", wheels), (f"{BUILD_DIR}/pip/pip", pip_source()))
    npm = npm_source()
    cache = into / "cache"
    await _run(
        [
            "npm",
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--cache",
            str(cache),
            "--registry",
            index,
            "--replace-registry-host=always",
        ],
        into,
        home,
        emit,
    )
    with contextlib.suppress(OSError):
        shutil.rmtree(cache / "_logs")
    return ((f"{BUILD_DIR}/cache", cache), (f"{BUILD_DIR}/npm", npm))


def build_job(
    plan: Plan,
    runtime: Runtime,
    deployment_id: str,
    image: str,
    key: str,
    trees: tuple[tuple[str, Path], ...],
) -> BuildJob:
    """The offline install in the build container, committed as `image`."""
    clean = f"exec /bin/busybox rm -rf {BUILD_DIR}"
    if plan.kind == "python":
        target = f"{DEPS_DIR}/python"
        script = (
            f"PYTHONDONTWRITEBYTECODE=1 PYTHONPATH={BUILD_DIR}/pip HOME={BUILD_DIR} "
            f"python3 -m pip install --no-index --find-links {BUILD_DIR}/wheels "
            f"--target {target} --no-cache-dir --disable-pip-version-check --no-input "
            f"--progress-bar off -r {BUILD_DIR}/requirements.txt && {clean}"
        )
        texts: tuple[tuple[str, str], ...] = (
            (f"{BUILD_DIR}/requirements.txt", plan.text("requirements.txt")),
        )
        changes: tuple[str, ...] = (f"ENV PYTHONPATH={target}",)
        links: tuple[tuple[str, str], ...] = ()
    else:
        target = f"{DEPS_DIR}/node"
        script = (
            f"cd {target} && HOME={BUILD_DIR} node {BUILD_DIR}/npm/bin/npm-cli.js ci --offline "
            f"--no-audit --no-fund --no-update-notifier --cache {BUILD_DIR}/cache && {clean}"
        )
        texts = tuple((f"{target}/{name}", text) for name, text in plan.files)
        changes = ()
        links = (("/node_modules", f"{target}/node_modules"),)
    return BuildJob(
        deployment_id=deployment_id,
        base_image=runtime.image,
        image=image,
        user=runtime.user,
        memory_bytes=runtime.memory_bytes,
        cpus=runtime.cpus,
        pids=runtime.pids,
        command=("/bin/sh", "-c", script),
        dirs=(BUILD_DIR, target),
        trees=trees,
        texts=texts,
        links=links,
        changes=(*changes, f"LABEL collab.dependencies={key}"),
    )
