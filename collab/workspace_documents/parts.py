"""What clients may write into each part of the workspace document, and how secrets are
kept: encrypted at rest (AES-GCM, key derived from the signing key), never returned in
clear. A client sending back the mask for a secret keeps the stored value.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from auth.keys import SigningKeys, key_id
from kernel.sealing import Sealer
from kernel.validation import MAX_JSON_DEPTH, nests_deeper_than, parse

MASK = "••••••••"
SERVER_PARTS = ("files", "analytics")


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Short = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=32),
    AfterValidator(_no_nul),
]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Variable(_Part):
    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
    value: Annotated[str, StringConstraints(max_length=8192), AfterValidator(_no_nul)]
    secret: bool = False


class Environment(_Part):
    variables: Annotated[list[Variable], Field(max_length=200)] = []

    @field_validator("variables")
    @classmethod
    def _unique(cls, variables: list[Variable]) -> list[Variable]:
        names = [v.name for v in variables]
        if len(names) != len(set(names)):
            raise ValueError("variable names must be unique")
        return variables


class Deployment(_Part):
    runtime: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.+-]{0,99}$")] | None = None
    public: bool = False


_SSH_REMOTE = re.compile(r"^[A-Za-z0-9_.-]+@[A-Za-z0-9.-]+:[A-Za-z0-9_./~-]+$")


def _remote(url: str) -> str:
    if _SSH_REMOTE.match(url):
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("https", "ssh", "git") or not parts.hostname:
        raise ValueError("must be an https://, ssh:// or git@host:path remote")
    if parts.password or (parts.username and parts.scheme == "https"):
        raise ValueError("must not carry credentials; they are never stored in clear")
    return url


_BRANCH = re.compile(r"^[A-Za-z0-9._/-]{1,255}$")


def _branch(name: str) -> str:
    if (
        not _BRANCH.match(name)
        or ".." in name
        or name.startswith(("/", "-"))  # "-…" would read as an option to git
        or name.endswith("/")
    ):
        raise ValueError("is not a valid branch name")
    return name


RemoteUrl = Annotated[str, StringConstraints(max_length=500), AfterValidator(_remote)]
Branch = Annotated[str, AfterValidator(_branch)]


class Git(_Part):
    remote_url: RemoteUrl | None = None
    branch: Branch | None = None


class Collaboration(_Part):
    default_role: Literal["editor", "viewer"] = "editor"


def _settings(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > 64:
        raise ValueError("at most 64 settings")
    # Before anything walks it: serialising and auditing it recurse.
    if nests_deeper_than(value, MAX_JSON_DEPTH):
        raise ValueError(f"must not be nested deeper than {MAX_JSON_DEPTH} levels")
    if len(json.dumps(value)) > 16_384:
        raise ValueError("settings are limited to 16 KiB")
    if "\\u0000" in json.dumps(value):
        raise ValueError("must not contain NUL characters")
    return value


class DocumentPatch(_Part):
    name: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
            AfterValidator(_no_nul),
        ]
        | None
    ) = None
    settings: Annotated[dict[str, Any], AfterValidator(_settings)] | None = None
    environment: Environment | None = None
    deployment: Deployment | None = None
    git: Git | None = None
    collaboration: Collaboration | None = None
    tags: Annotated[list[Short], Field(max_length=50)] | None = None

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, tags: list[str] | None) -> list[str] | None:
        if tags is not None and len(tags) != len(set(tags)):
            raise ValueError("tags must be unique")
        return tags


def parse_patch(body: dict[str, Any]) -> DocumentPatch:
    from kernel.errors import ValidationFailed

    server_owned = [part for part in SERVER_PARTS if part in body]
    if server_owned:
        raise ValidationFailed(
            {part: "is kept by the server and cannot be written" for part in server_owned}
        )
    # A part is replaced whole, and null would break its shape (tags a list, settings an
    # object…) for every reader: a null part is ignored, as null fields are by the other
    # PATCH routes. To empty a part, send its empty value.
    given = {part: value for part, value in body.items() if value is not None}
    return parse(DocumentPatch, given)


class SecretBox:
    """Encrypts secret values with a key derived from the signing key; records its id so
    values written before a key rotation still decrypt (`kernel.sealing`)."""

    def __init__(self, keys: SigningKeys) -> None:
        def key_for(kid: str) -> bytes | None:
            secret = keys.for_kid(kid)
            return SigningKeys(secret).derive("workspace-secrets") if secret else None

        self._sealer = Sealer(key_id(keys.current), key_for)

    def seal(self, value: str) -> dict[str, str]:
        return self._sealer.seal(value)

    def open(self, stored: dict[str, str]) -> str:
        return self._sealer.open(stored)


def store_environment(new: Environment, old: dict[str, Any], box: SecretBox) -> dict[str, Any]:
    """The stored form: secrets sealed; a masked secret keeps what was stored under its name."""
    from kernel.errors import ValidationFailed

    previous = {v["name"]: v for v in old.get("variables", [])}
    stored = []
    for variable in new.variables:
        if not variable.secret:
            stored.append({"name": variable.name, "value": variable.value, "secret": False})
            continue
        if variable.value == MASK:
            kept = previous.get(variable.name)
            if kept is None or not kept.get("secret"):
                raise ValidationFailed({"environment": f"{variable.name}: send the secret's value"})
            stored.append(kept)
            continue
        stored.append({"name": variable.name, "secret": True, "sealed": box.seal(variable.value)})
    return {"variables": stored}


def render_environment(stored: dict[str, Any]) -> dict[str, Any]:
    return {
        "variables": [
            {
                "name": v["name"],
                "value": MASK if v.get("secret") else v["value"],
                "secret": bool(v.get("secret")),
            }
            for v in stored.get("variables", [])
        ]
    }
