"""What a session's files ask to install, checked before anything is fetched.

- python: `requirements.txt`, one requirement a line (`name[extras] specifiers ; marker`).
  Options (`-r`, `--index-url`, `-e`, ...), direct references (`name @ url`), paths and
  URLs are refused: packages come from the operator's index only. So is `$` (pip would
  expand `${NAME}` from the server's environment, and quote it back in its errors).
- javascript: `package.json` with its `package-lock.json` (lockfile version 2 or 3, as npm
  7+ writes). Every dependency of package.json is a version or range (no `file:`, `git`,
  URLs, `user/repo`, aliases); every package of the lockfile is a tarball (`resolved`
  http(s), its host replaced by the operator's registry when fetched), never a link.
  A package.json without a lockfile is refused: an install must be reproducible to be
  cached by its files.

The result (`Plan`) holds the files as they will be installed; its `key` (with the runtime
image and the index) names the cached image.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from config.runtimes import Runtime

# Bump when the way an install is made changes: every cached image is then rebuilt.
INSTALLER_VERSION = "1"
MAX_FILE_BYTES = 1024 * 1024
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_SPEC = r"(?:===|==|!=|~=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+"
_REQUIREMENT = re.compile(
    rf"^{_NAME}\s*(?:\[\s*{_NAME}(?:\s*,\s*{_NAME})*\s*\])?\s*"
    # A marker has no `$`: pip expands `${NAME}` from its (the server's) environment.
    rf"(?:\(?\s*{_SPEC}(?:\s*,\s*{_SPEC})*\s*\)?)?\s*(?:;[^@\\$]*)?$"
)
# A version, range or dist-tag: no `:` (URLs, file:, git+, npm: aliases) and no `/` (paths,
# user/repo).
_NPM_RANGE = re.compile(r"^[A-Za-z0-9.^~<>=|*+\- ]*$")
_DEPENDENCY_FIELDS = (
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
)
_URL = re.compile(r"^https?://[^/\s]+/\S+\.tgz$")


class InstallFailed(Exception):
    """The dependencies could not be installed; str() is the deployment's failure reason."""


class DependencyFilesInvalid(ValueError):
    """The dependency files ask for something that is not installed; the message says what."""


@dataclass(frozen=True)
class Plan:
    kind: Literal["python", "javascript"]
    # The dependency files as they will be installed (requirements.txt normalised).
    files: tuple[tuple[str, str], ...]

    def key(self, runtime_image_id: str, index: str) -> str:
        """What an install depends on: its files, the runtime image and the index."""
        material = json.dumps(
            [INSTALLER_VERSION, self.kind, runtime_image_id, index, list(self.files)]
        )
        return hashlib.sha256(material.encode()).hexdigest()

    def text(self, name: str) -> str:
        return dict(self.files)[name]


def language(runtime: Runtime) -> str:
    """A runtime's language: `python-flask` is python."""
    return runtime.name.split("-", 1)[0]


def plan_for(runtime: Runtime, files: dict[str, str]) -> Plan | None:
    """What to install for this runtime, None when nothing (no dependency file)."""
    kind = language(runtime)
    for name in ("requirements.txt", "package.json", "package-lock.json"):
        if len(files.get(name, "").encode()) > MAX_FILE_BYTES:
            raise DependencyFilesInvalid(f"{name} is larger than {MAX_FILE_BYTES // 1024} KiB")
    if kind == "python" and "requirements.txt" in files:
        return Plan("python", (("requirements.txt", requirements(files["requirements.txt"])),))
    if kind == "javascript" and "package.json" in files:
        if "package-lock.json" not in files:
            raise DependencyFilesInvalid(
                "package.json needs its package-lock.json (run `npm install` to write it)"
            )
        check_package(files["package.json"], files["package-lock.json"])
        return Plan(
            "javascript",
            (
                ("package.json", files["package.json"]),
                ("package-lock.json", files["package-lock.json"]),
            ),
        )
    return None


def requirements(text: str) -> str:
    """The requirement lines of a requirements.txt (comments and blanks dropped)."""
    kept = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        if line.startswith("-") or line.endswith("\\"):
            raise DependencyFilesInvalid(
                f"requirements.txt line {number}: options are not accepted here (the package "
                "index is the operator's setting)"
            )
        if not _REQUIREMENT.match(line):
            raise DependencyFilesInvalid(
                f"requirements.txt line {number}: {line[:80]!r} is not a package requirement "
                "(URLs, paths and `name @ url` are not installed)"
            )
        kept.append(line)
    return "\n".join(kept) + "\n"


def _json(name: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise DependencyFilesInvalid(f"{name} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise DependencyFilesInvalid(f"{name} is not a JSON object")
    return value


def check_package(package_text: str, lock_text: str) -> None:
    package = _json("package.json", package_text)
    for field in _DEPENDENCY_FIELDS:
        deps = package.get(field) or {}
        if not isinstance(deps, dict):
            raise DependencyFilesInvalid(f"package.json: {field} is not an object")
        for name, spec in deps.items():
            if not isinstance(spec, str) or not _NPM_RANGE.match(spec):
                raise DependencyFilesInvalid(
                    f"package.json: {field}.{name} is {spec!r}: only versions and ranges from "
                    "the registry are installed (no URLs, paths, git or aliases)"
                )
    lock = _json("package-lock.json", lock_text)
    packages = lock.get("packages")
    if lock.get("lockfileVersion", 1) < 2 or not isinstance(packages, dict):
        raise DependencyFilesInvalid(
            "package-lock.json is from npm 6 or older: write it again with npm 7 or later"
        )
    for path, entry in packages.items():
        if not path:
            continue  # the project itself
        if not isinstance(entry, dict) or entry.get("link"):
            raise DependencyFilesInvalid(f"package-lock.json: {path} is a link, not a package")
        resolved = entry.get("resolved")
        if resolved is not None and not (isinstance(resolved, str) and _URL.match(resolved)):
            raise DependencyFilesInvalid(
                f"package-lock.json: {path} comes from {str(resolved)[:80]!r}: only registry "
                "tarballs are installed"
            )
