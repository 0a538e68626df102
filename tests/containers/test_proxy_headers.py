"""The preview proxy's header rules, on their own (no I/O)."""

from __future__ import annotations

import jwt
import pytest

from containers.proxy_headers import (
    ORIGIN_WIDE,
    address,
    bearer_credential,
    connection_named,
    cookie_without_server_cookies,
    end_to_end,
    is_server_bearer,
    is_server_cookie,
    location_in_preview,
    query_without_token,
    sets_server_cookie,
    url_without_token,
)

PREFIX = "/preview/0b4f8f3e-8a8e-4d7e-9a57-0f4b2c9d1e11"
OWN = {("127.0.0.1", 30001), ("localhost", 30001), ("ide.example", 443)}


def test_hop_by_hop_and_connection_named_headers_are_dropped() -> None:
    headers = [
        ("Connection", "keep-alive, X-Hop"),
        ("connection", "x-other"),
        ("X-Hop", "a"),
        ("X-Other", "b"),
        ("Keep-Alive", "timeout=5"),
        ("Proxy-Connection", "keep-alive"),
        ("TE", "trailers"),
        ("Trailer", "X-T"),
        ("Transfer-Encoding", "chunked"),
        ("Upgrade", "h2c"),
        ("Proxy-Authorization", "Basic x"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("Host", "x"),
    ]
    assert connection_named(headers) == {"keep-alive", "x-hop", "x-other"}
    assert end_to_end(headers, {"host"}) == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]


def test_the_servers_cookie_namespace() -> None:
    for ours in ("collab_preview", "collab_refresh", "collab", "Collab-X", "__Host-collab_s"):
        assert is_server_cookie(ours), ours
    for theirs in ("collaborator", "session", "my_collab_preview", "__Host-app"):
        assert not is_server_cookie(theirs), theirs


def test_the_servers_cookies_are_taken_out_of_what_the_app_receives() -> None:
    assert (
        cookie_without_server_cookies(
            ['theme=dark; collab_preview=abc; json={"a":1}', "collab_refresh=r;b=2;;"]
        )
        == 'theme=dark; json={"a":1}; b=2'
    )
    assert cookie_without_server_cookies(["collab_preview=abc"]) is None
    assert cookie_without_server_cookies([]) is None


@pytest.mark.parametrize(
    ("set_cookie", "refused"),
    [
        ("collab_preview=forged; Path=/", True),
        ("  collab_refresh = x", True),
        ("__Secure-collab_x=1; Secure", True),
        ("collab_preview", True),  # nameless: browsers send the bare value
        ("=collab_preview=forged", True),  # nameless: browsers send "collab_preview=forged"
        ("app=collab_preview", False),
        ("session=1; Path=/", False),
    ],
)
def test_an_apps_set_cookie_for_a_server_cookie_is_refused(set_cookie: str, refused: bool) -> None:
    assert sets_server_cookie(set_cookie) is refused


def test_the_token_parameter_never_passes() -> None:
    assert query_without_token("a=1&token=T&b=%20x&token") == "a=1&b=%20x"
    assert query_without_token("%74oken=T&b=2") == "b=2"
    assert query_without_token("tokens=1&my_token=2") == "tokens=1&my_token=2"
    assert query_without_token("") == ""
    assert (
        url_without_token("https://ide.example/preview/x/?token=T&x=1#top")
        == "https://ide.example/preview/x/?x=1#top"
    )
    assert url_without_token("https://ide.example/") == "https://ide.example/"


def test_headers_acting_on_the_whole_origin_are_dropped_from_answers() -> None:
    answer = [
        ("Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload"),
        ("strict-transport-security", "max-age=0"),
        ("Alt-Svc", 'h3=":443"; ma=86400'),
        ("Service-Worker-Allowed", "/"),
        ("Clear-Site-Data", '"*"'),
        ("Content-Security-Policy", "default-src 'self'"),  # the app's own pages only
    ]
    assert end_to_end(answer, ORIGIN_WIDE) == [("Content-Security-Policy", "default-src 'self'")]


def test_a_bearer_credential_is_read_whatever_the_schemes_case() -> None:
    for value in ("Bearer abc", "bearer abc", "BEARER  abc ", " BeArEr abc"):
        assert bearer_credential(value) == "abc", value
    for value in ("Basic abc", "Bearer", "Bearer  ", "Bearerabc", "", "Token abc"):
        assert bearer_credential(value) is None, value


def test_only_our_bearer_credentials_are_recognised() -> None:
    ours = jwt.encode({"sub": "u"}, "k" * 32, "HS256", headers={"kid": "ourkid"})
    theirs = jwt.encode({"sub": "u"}, "k" * 32, "HS256", headers={"kid": "theirs"})

    def is_ours(kid: str) -> bool:
        return kid == "ourkid"

    assert is_server_bearer(f"Bearer {ours}", is_ours)
    assert is_server_bearer(f"bearer  {ours} ", is_ours)
    assert is_server_bearer("Bearer collab_abcdef", is_ours)  # an API key
    assert not is_server_bearer(f"Bearer {theirs}", is_ours)
    assert not is_server_bearer("Bearer opaque-app-token", is_ours)
    assert not is_server_bearer("Basic dXNlcjpwYXNz", is_ours)
    assert not is_server_bearer("Bearer", is_ours)


@pytest.mark.parametrize(
    ("location", "rewritten"),
    [
        ("/next?q=1#f", f"{PREFIX}/next?q=1#f"),
        ("next", f"{PREFIX}/a/b/next"),
        ("?page=2", f"{PREFIX}/a/b/c?page=2"),
        ("../../../../api/auth/me", f"{PREFIX}/api/auth/me"),
        (f"{PREFIX}/done", f"{PREFIX}/done"),
        (f"{PREFIX}/../../api", f"{PREFIX}/api"),
        ("http://127.0.0.1:30001/inner", f"{PREFIX}/inner"),
        ("http://LOCALHOST:30001/inner", f"{PREFIX}/inner"),
        ("https://ide.example/outer", f"{PREFIX}/outer"),
        (f"https://ide.example{PREFIX}/both", f"{PREFIX}/both"),
        # Leaving the preview:
        ("https://evil.example/", None),
        ("//evil.example/x", None),
        ("/\\evil.example/x", None),
        ("\\\\evil.example", None),
        ("/\t/evil.example", None),
        (" \x00//evil.example", None),
        ("http://127.0.0.1:5432/", None),  # another port on the host
        ("https://ide.example:8443/x", None),
        ("javascript:alert(1)", None),
        ("data:text/html,hi", None),
        ("http://[::1/", None),
    ],
)
def test_locations_stay_in_the_preview_or_are_refused(location: str, rewritten: str | None) -> None:
    assert location_in_preview(location, PREFIX, "/a/b/c", OWN) == rewritten


def test_addresses_default_to_the_schemes_port() -> None:
    assert address("https", "IDE.example") == ("ide.example", 443)
    assert address("http", "127.0.0.1:8000") == ("127.0.0.1", 8000)
    assert address("http", "[::1]:8000") == ("::1", 8000)
    assert address("http", "bad host:x") is None


@pytest.mark.parametrize(
    ("location", "rewritten"),
    [
        ("/next?q=1#f", "/next?q=1#f"),
        ("next", "/a/b/next"),
        ("../../../../x", "/x"),
        (f"{PREFIX}/kept", f"{PREFIX}/kept"),  # at the root, any path is the app's
        ("http://127.0.0.1:30001/inner", "/inner"),
        ("https://ide.example/outer", "/outer"),
        ("https://evil.example/", None),
        ("//evil.example/x", None),
        ("/\\evil.example/x", None),
    ],
)
def test_at_the_root_of_its_own_origin_locations_are_the_apps_paths(
    location: str, rewritten: str | None
) -> None:
    """A preview on its own origin has no prefix: a path stays as the app wrote it."""
    assert location_in_preview(location, "", "/a/b/c", OWN) == rewritten
