"""The Docker side of installing dependencies: a build container, committed as an image.

A build container starts from the runtime image with what the server fetched copied in
(`put_archive`, so it works with any dockerd the server reaches, not only one sharing its
file system). It has no network at all (`network_mode=none`), no capabilities, no new
privileges, the runtime's unprivileged user and limits (at least 1 CPU, 512 MiB and 128
processes: installers need more than a small app), and its own time limit: past it the
container is killed. Its output goes to `on_output` as it comes. When it exits 0 it is
committed as the dependency image (`changes` add ENV/LABEL lines); it is always removed.

Build containers are named `collab-build-{deployment_id}` and carry no `collab.managed`
label, so the reconciler never takes one for a deployment (and a committed image, which
inherits a container's labels, never makes a deployment look like a build).
"""

from __future__ import annotations

import contextlib
import datetime
import io
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docker.errors import ImageNotFound, NotFound

from containers.engine import LOG_CONFIG

BUILD_PREFIX = "collab-build-"
MIN_MEMORY = 512 * 1024**2
MIN_CPUS = 1.0
MIN_PIDS = 128


class BuildFailed(RuntimeError):
    """The install exited non-zero (`code`) or ran out of time (`timed_out`)."""

    def __init__(self, code: int | None, timed_out: bool) -> None:
        super().__init__(f"exit code {code}" if not timed_out else "timed out")
        self.code = code
        self.timed_out = timed_out


@dataclass(frozen=True)
class BuildJob:
    deployment_id: str
    base_image: str
    # repository:tag of the image to commit.
    image: str
    user: str
    memory_bytes: int
    cpus: float
    pids: int
    command: tuple[str, ...]
    # Directories made (owned by the runtime user), in order; their parents are root's.
    dirs: tuple[str, ...] = ()
    # (path in the container, file or directory on this machine), owned by the runtime user.
    trees: tuple[tuple[str, Path], ...] = ()
    # (path, text) of small files written as they are, owned by the runtime user.
    texts: tuple[tuple[str, str], ...] = ()
    # (path, target) symbolic links, made as root.
    links: tuple[tuple[str, str], ...] = ()
    # Dockerfile instructions for the commit (`ENV ...`, `LABEL ...`).
    changes: tuple[str, ...] = ()


def _ids(user: str) -> tuple[int, int]:
    uid, _, gid = user.partition(":")
    return (int(uid), int(gid or uid)) if uid.isdigit() else (0, 0)


def _context(job: BuildJob, out: Any) -> None:
    """The tar put at `/`: parents as root, the user's own directories and files."""
    uid, gid = _ids(job.user)
    made: set[str] = set()
    mine = tuple(d.strip("/") for d in job.dirs)

    def directory(name: str) -> None:
        """Make `name` and its parents: the user's within `job.dirs`, root's above."""
        name = name.strip("/")
        if not name or name in made:
            return
        directory(name.rpartition("/")[0])
        made.add(name)
        info = tarfile.TarInfo(name)
        info.type, info.mode = tarfile.DIRTYPE, 0o1777 if name == "tmp" else 0o755
        if any(name == d or name.startswith(d + "/") for d in mine):
            info.uid, info.gid = uid, gid
        tar.addfile(info)

    def owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid, info.gid, info.uname, info.gname = uid, gid, "", ""
        if "__pycache__" in info.name.split("/"):
            return None  # type: ignore[return-value]  # tarfile's filter may drop a member
        return info

    with tarfile.open(fileobj=out, mode="w") as tar:
        for name in job.dirs:
            directory(name)
        for name, text in job.texts:
            name = name.strip("/")
            directory(name.rpartition("/")[0])
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.gid = len(data), 0o644, uid, gid
            tar.addfile(info, io.BytesIO(data))
        for name, source in job.trees:
            name = name.strip("/")
            directory(name.rpartition("/")[0])
            tar.add(str(source), arcname=name, filter=owned)
        for name, target in job.links:
            name = name.strip("/")
            directory(name.rpartition("/")[0])
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)


def image_id(client: Any, image: str) -> str | None:
    """The id of a local image, None when there is none by that name."""
    try:
        found: str = client.images.get(image).id
    except ImageNotFound:
        return None
    return found


def remove_build(client: Any, deployment_id: str) -> None:
    with contextlib.suppress(NotFound):
        client.containers.get(BUILD_PREFIX + deployment_id).remove(force=True)


def remove_stale_builds(client: Any, older_than: float) -> int:
    """Remove build containers created more than `older_than` seconds ago (left by a server
    that died mid-install: a live one kills its build at its time limit); how many."""
    removed = 0
    for container in client.containers.list(all=True, filters={"name": BUILD_PREFIX}):
        if not container.name.startswith(BUILD_PREFIX):
            continue
        created = datetime.datetime.strptime(
            container.attrs.get("Created", "")[:19], "%Y-%m-%dT%H:%M:%S"
        ).replace(tzinfo=datetime.UTC)
        if time.time() - created.timestamp() > older_than:
            with contextlib.suppress(NotFound):
                container.remove(force=True)
                removed += 1
    return removed


def build(
    client: Any,
    job: BuildJob,
    timeout: float,
    on_output: Callable[[bytes], None],
    stale_after: float = 3600.0,
) -> str:
    """BLOCKING (for a thread of its own): run the install, commit it; the image's id."""
    name = BUILD_PREFIX + job.deployment_id
    remove_build(client, job.deployment_id)
    with contextlib.suppress(ValueError):
        remove_stale_builds(client, stale_after)
    container = client.containers.create(
        job.base_image,
        command=list(job.command),
        name=name,
        user=job.user or None,
        working_dir="/",
        network_mode="none",
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        mem_limit=max(job.memory_bytes, MIN_MEMORY),
        nano_cpus=int(max(job.cpus, MIN_CPUS) * 1e9),
        pids_limit=max(job.pids, MIN_PIDS),
        log_config=LOG_CONFIG,
    )
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        with contextlib.suppress(Exception):
            container.kill()

    timer = threading.Timer(timeout, kill)
    try:
        with tempfile.TemporaryFile() as context:
            _context(job, context)
            context.seek(0)
            container.put_archive("/", context)
        timer.start()
        container.start()
        for chunk in container.logs(stream=True, follow=True):
            on_output(chunk)
        code = int(container.wait().get("StatusCode", -1))
        if timed_out.is_set() or code != 0:
            raise BuildFailed(code, timed_out.is_set())
        committed = container.commit(*job.image.split(":", 1), changes=list(job.changes))
        result: str = committed.id
        return result
    finally:
        timer.cancel()
        with contextlib.suppress(Exception):
            container.remove(force=True)
