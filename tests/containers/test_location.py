"""An app's `Location` that is a path of its own preview beginning `//` after
resolution (`/.//evil.example/`, or its own absolute URL with that path) was rewritten to
`//evil.example/`, which a browser reads as another origin: the proxy's refusal of
redirects out of the preview was bypassed by its own rewriting."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from containers.proxy_headers import location_in_preview

OWN = {("abc.localhost", 8080), ("10.0.0.2", 8000)}


@pytest.mark.parametrize(
    "location",
    [
        "/.//evil.example/",
        "/./\\evil.example/",
        "http://abc.localhost:8080//evil.example/x",
        "http://10.0.0.2:8000/.//evil.example",
        "./../..//evil.example",
        "a/..//evil.example",
    ],
)
def test_a_rewritten_location_never_names_another_host(location: str) -> None:
    for prefix in ("", "/preview/0b9d4a5e-2f4c-4d7e-9e0c-6f1c2d3e4f5a"):
        moved = location_in_preview(location, prefix, "/a/b", OWN)
        if moved is None:
            continue
        assert moved.startswith("/"), moved
        resolved = urlsplit(moved.replace("\\", "/"))
        assert not resolved.netloc, (location, prefix, moved)


def test_the_path_itself_is_kept() -> None:
    assert location_in_preview("/.//evil.example/", "", "/", OWN) == "/.//evil.example/"
    assert location_in_preview("/ok", "", "/", OWN) == "/ok"
