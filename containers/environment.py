"""A deployment's environment, and keeping its secrets out of everything it prints.

The variables come from the workspace document's `environment` and the session's own (which
override the workspace's by name), both in their stored form: plain values, and secrets
sealed. Secrets are opened here, only when the container is about to start, and exist in
clear only in the container's environment. Whatever the app prints is masked before it goes
anywhere (`deployment:log`, the logs API, the output kept after it stops, a failure's
reason), as CI systems mask secrets: every exact occurrence of a secret's value becomes
`***`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

# Never reach the container from a session: set by the runtime, or the git routes'
# credentials (opened for the git process only: in a deployment, any editor's code could
# read the token and serve it through the preview).
RESERVED = frozenset({"PORT", "HOME", "PATH", "HOSTNAME", "GIT_TOKEN", "GIT_USERNAME"})
RESERVED_PREFIX = "COLLAB_"
# A container's whole environment from its session, in bytes of NAME=value.
MAX_TOTAL_BYTES = 128 * 1024
# Shorter secret values are not masked: masking "1" would mask every digit of the output.
MIN_MASKED = 4
MASKED = "***"

Unseal = Callable[[dict[str, str]], str]


class EnvironmentTooLarge(ValueError):
    pass


def reserved(name: str) -> bool:
    return name in RESERVED or name.upper().startswith(RESERVED_PREFIX)


@dataclass(frozen=True)
class DeployEnvironment:
    variables: dict[str, str]
    secret_names: frozenset[str]

    @property
    def secret_values(self) -> list[str]:
        return [self.variables[name] for name in self.secret_names]


def merge(workspace: dict[str, Any], session: dict[str, Any], unseal: Unseal) -> DeployEnvironment:
    """The workspace's variables, then the session's over them; secrets opened."""
    chosen: dict[str, dict[str, Any]] = {}
    for stored in (workspace, session):
        for variable in stored.get("variables", []):
            chosen[variable["name"]] = variable
    values: dict[str, str] = {}
    secrets = set()
    for name, variable in chosen.items():
        if reserved(name):
            continue
        if variable.get("secret"):
            values[name] = unseal(variable["sealed"])
            secrets.add(name)
        else:
            values[name] = str(variable.get("value", ""))
    if sum(len(k) + len(v) + 2 for k, v in values.items()) > MAX_TOTAL_BYTES:
        raise EnvironmentTooLarge(f"the environment is larger than {MAX_TOTAL_BYTES // 1024} KiB")
    return DeployEnvironment(values, frozenset(secrets))


class Masker:
    """Replaces every exact occurrence of a secret value (and of each line of a multi-line
    one, as output is read line by line) with `***`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        pieces = set()
        for value in secrets:
            pieces.add(value)
            pieces.update(value.splitlines())
        # Longest first, so a secret containing another is masked whole.
        self._pieces = sorted((p for p in pieces if len(p) >= MIN_MASKED), key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._pieces)

    def __call__(self, text: str) -> str:
        for piece in self._pieces:
            if piece in text:
                text = text.replace(piece, MASKED)
        return text

    def safe_end(self, text: str) -> int:
        """How much of `text`, the start of a line whose end has not come yet, may be shown
        (masked) now: no secret found in it is cut at that point, and none can start before
        it and end in what is still to come."""
        if not self._pieces:
            return len(text)
        end = len(text) - (len(self._pieces[0]) - 1)  # the longest first
        moved = True
        while moved and end > 0:
            moved = False
            for piece in self._pieces:
                found = text.find(piece, max(end - len(piece) + 1, 0), end + len(piece) - 1)
                if found != -1 and found < end:
                    end, moved = found, True
        return max(end, 0)


NO_SECRETS = Masker(())
