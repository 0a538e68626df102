"""Building the runtime images locally, where no registry can be reached.

Each image is a root filesystem assembled from this machine's Debian packages and handed
to `docker import`:
- `busybox`: the static busybox (`busybox-static`), whose httpd serves static sites;
- `host-binary`: one interpreter (Debian's python3.11 or nodejs) with every shared library
  `ldd` names for it (and for the extension modules of its library tree), plus busybox for
  `/bin/sh`.
Every image has `/etc/passwd` with `nobody` (the runtimes run as 65534:65534), and
world-writable `/app` and `/tmp`. Blocking throughout: callers use an executor.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path

from config.runtimes import Runtime

BUSYBOX = Path("/bin/busybox")
_LDD_PATH = re.compile(r"(/\S+)")


class ImageBuildError(RuntimeError):
    """An image could not be assembled; the message says what is missing."""


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str, mode: int = 0o755) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, mode
    tar.addfile(info)


def _add_symlink(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    tar.addfile(info)


def _add_file(tar: tarfile.TarFile, path: Path, seen: set[str]) -> None:
    name = str(path).lstrip("/")
    if name in seen:
        return
    seen.add(name)
    tar.add(str(path.resolve()), arcname=name, recursive=False)


def shared_libraries(binaries: Iterable[Path]) -> set[Path]:
    """Every library (and the loader) the dynamic linker would load for these files."""
    libraries: set[Path] = set()
    for binary in binaries:
        result = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            continue  # not dynamic (static, or not an ELF file)
        for line in result.stdout.splitlines():
            match = _LDD_PATH.search(line.split("=>")[-1])
            if match and Path(match[1]).exists():
                libraries.add(Path(match[1]))
    return libraries


def _base(tar: tarfile.TarFile) -> None:
    if not BUSYBOX.exists():
        raise ImageBuildError("busybox is missing: apt-get install busybox-static")
    for directory, mode in (
        ("bin", 0o755),
        ("etc", 0o755),
        ("usr", 0o755),
        ("usr/bin", 0o755),
        ("app", 0o1777),
        ("tmp", 0o1777),
    ):
        _add_dir(tar, directory, mode)
    tar.add(str(BUSYBOX), arcname="bin/busybox")
    _add_symlink(tar, "bin/sh", "busybox")
    _add_bytes(
        tar, "etc/passwd", b"root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/app:/bin/sh\n"
    )
    _add_bytes(tar, "etc/group", b"root:x:0:\nnogroup:x:65534:\n")


def _host_binary(tar: tarfile.TarFile, runtime: Runtime) -> None:
    binary = Path(runtime.build["binary"])
    if not binary.exists():
        raise ImageBuildError(f"{binary} is missing on this machine (runtime {runtime.name})")
    seen: set[str] = set()
    elf_files = [binary]
    tree = runtime.build.get("tree")
    if tree:
        for root, dirs, files in os.walk(tree):
            dirs[:] = [d for d in dirs if d not in ("__pycache__", "test", "tests", "idlelib")]
            for file in files:
                path = Path(root) / file
                if path.is_file():
                    _add_file(tar, path, seen)
                    if file.endswith(".so"):
                        elf_files.append(path)
    _add_file(tar, binary, seen)
    link = runtime.build.get("link")
    if link and link != str(binary):
        _add_symlink(tar, link.lstrip("/"), str(binary))
    for library in sorted(shared_libraries(elf_files)):
        _add_file(tar, library, seen)


def root_filesystem(runtime: Runtime, out: Path) -> Path:
    """Write the runtime's root filesystem as a tar file at `out`."""
    kind = runtime.build.get("from")
    with tarfile.open(out, "w") as tar:
        _base(tar)
        if kind == "host-binary":
            _host_binary(tar, runtime)
        elif kind != "busybox":
            raise ImageBuildError(f"runtime {runtime.name}: unknown build kind {kind!r}")
    return out


def build_image(client: object, runtime: Runtime) -> str:
    """Assemble and import the image; return its id. `client` is a docker.DockerClient."""
    repository, _, tag = runtime.image.partition(":")
    with tempfile.TemporaryDirectory(prefix="collab-rootfs-") as tmp:
        archive = root_filesystem(runtime, Path(tmp) / "rootfs.tar")
        result = client.api.import_image_from_file(  # type: ignore[attr-defined]
            str(archive),
            repository=repository,
            tag=tag or "latest",
            changes=["WORKDIR /app", "ENV PATH=/usr/bin:/bin"],
        )
    if isinstance(result, str) and '"status"' in result and "sha256:" in result:
        return result.split("sha256:")[1].split('"')[0]
    raise ImageBuildError(f"docker import did not report an image for {runtime.image}: {result}")
