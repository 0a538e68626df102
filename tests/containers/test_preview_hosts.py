"""Which `Host` is a preview, and of which deployment (no I/O)."""

from __future__ import annotations

import uuid

import pytest

from containers.preview_hosts import deployment_of, is_preview_host, preview_label

pytestmark = pytest.mark.unit

DID = uuid.UUID("0b4f8f3e-8a8e-4d7e-9a57-0f4b2c9d1e11")
DEV = "localhost:8000"
PROD = "example-preview.net"


@pytest.mark.parametrize(
    ("host", "suffix"),
    [
        (f"{DID}.localhost:8000", DEV),
        (f"{str(DID).upper()}.LOCALHOST:8000", DEV),  # host names are case-insensitive
        (f"{DID}.localhost.:8000", DEV),  # the fully qualified spelling
        (f"{DID}.example-preview.net", PROD),
        (f"{DID}.Example-Preview.NET.", PROD),
        (f"{DID}.example-preview.net:8443", "example-preview.net:8443"),
        (f"{DID}.example-preview.net", "EXAMPLE-preview.net."),  # as an operator may write it
    ],
)
def test_a_deployments_host_names_it(host: str, suffix: str) -> None:
    assert deployment_of(host, suffix) == DID
    assert is_preview_host(host, suffix)


@pytest.mark.parametrize(
    "host",
    [
        f"{DID}.localhost:8001",  # another port is another listener's
        f"{DID}.localhost",  # no port: the scheme's, not ours
        f"{DID}.localhost:80",
        f"{DID}.localhost:x",
        "localhost:8000",  # the domain itself is not a preview
        "127.0.0.1:8000",
        "[::1]:8000",
        f"{DID}.notlocalhost:8000",  # a suffix must follow a dot
        f"{DID}localhost:8000",
        f"{DID}.localhost.evil.example:8000",
        "",
        None,
    ],
)
def test_other_hosts_are_not_previews(host: str | None) -> None:
    assert not is_preview_host(host, DEV)
    assert deployment_of(host, DEV) is None


@pytest.mark.parametrize(
    "host",
    [
        "www.localhost:8000",
        "nope.localhost:8000",
        f"a.{DID}.localhost:8000",  # one label only
        f"{DID.hex}.localhost:8000",  # the same id spelt otherwise: not a second origin
        f"{{{DID}}}.localhost:8000",
        f"urn:uuid:{DID}.localhost:8000",
        f"{str(DID)[:-1]}x.localhost:8000",
    ],
)
def test_other_subdomains_are_previews_of_nothing(host: str) -> None:
    """They are the previews' (never the app's), and name no deployment: a 404."""
    assert is_preview_host(host, DEV)
    assert deployment_of(host, DEV) is None


def test_the_suffix_without_a_port_wants_none() -> None:
    assert deployment_of(f"{DID}.example-preview.net:443", PROD) is None
    assert preview_label(f"x.y.{PROD}", PROD) == "x.y"
    assert preview_label(PROD, PROD) is None
