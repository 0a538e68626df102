"""What may cross the preview proxy, header by header: pure rules, no I/O.

A preview has its own origin, but under COLLAB_PREVIEW_PATHS it is also served on the
server's, where anything an app answers acts on that origin and anything a visitor's browser
sends for it may carry the server's credentials; and the preview's own cookie rides along on
either. The rules are the same for both, and keep the two apart:

- hop-by-hop headers (RFC 9110 §7.6.1) and every header a `Connection` header names stop
  at the proxy, both ways;
- the server's cookies (the `collab` namespace: `collab`, `collab_*`, `collab-*`, also under
  the `__Host-` / `__Secure-` prefixes) are taken out of the `Cookie` an app receives, and an
  app's `Set-Cookie` for one of them is refused;
- the `token` query parameter (an access token) never reaches the app, in the request
  target or in a `Referer`; neither does a bearer credential of ours;
- a `Location` is rewritten into the preview, or refused when it leaves it;
- response headers that act on the whole origin, not on the app's pages (`ORIGIN_WIDE`:
  `Service-Worker-Allowed`, `Clear-Site-Data`, `Strict-Transport-Security`, `Alt-Svc`), are
  dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from urllib.parse import unquote, urlsplit, urlunsplit

import jwt
from yarl import URL

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Response headers that would act on the whole origin (the IDE and the API included), not on
# the app's own pages: a service worker scope above the preview, wiping the origin's storage,
# pinning HTTPS for the host and its subdomains (HSTS with includeSubDomains, for years), or
# sending the origin's later traffic to another endpoint (Alt-Svc).
ORIGIN_WIDE = frozenset(
    {"service-worker-allowed", "clear-site-data", "strict-transport-security", "alt-svc"}
)

TOKEN_PARAM = "token"  # noqa: S105 - the query parameter's name, not a secret
SERVER_COOKIE_NAMESPACE = "collab"
API_KEY_PREFIX = "collab_"
_COOKIE_PREFIXES = ("__host-", "__secure-")
# Relative redirects are resolved in the app's own URL space, on a host nobody can own.
_APP_HOST = "app.invalid"

Headers = Iterable[tuple[str, str]]


def connection_named(headers: Headers) -> frozenset[str]:
    """Lower-case names listed in every `Connection` header."""
    return frozenset(
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
        if token.strip()
    )


def end_to_end(headers: Headers, drop: Collection[str] = ()) -> list[tuple[str, str]]:
    """The headers that may be forwarded: not hop-by-hop, not named in `Connection`, not in
    `drop` (lower-case names). Repeated headers are kept, in order."""
    pairs = list(headers)
    stopped = HOP_BY_HOP | connection_named(pairs) | frozenset(drop)
    return [(name, value) for name, value in pairs if name.lower() not in stopped]


# -- cookies --------------------------------------------------------------------------------------


def is_server_cookie(name: str) -> bool:
    lowered = name.strip().lower()
    for prefix in _COOKIE_PREFIXES:
        lowered = lowered.removeprefix(prefix)
    return lowered == SERVER_COOKIE_NAMESPACE or lowered.startswith(
        (f"{SERVER_COOKIE_NAMESPACE}_", f"{SERVER_COOKIE_NAMESPACE}-")
    )


def cookie_without_server_cookies(values: Iterable[str]) -> str | None:
    """One `Cookie` value from every `Cookie` header, the server's cookies taken out.

    Each pair is kept verbatim (no re-quoting); None when nothing is left.
    """
    kept = []
    for value in values:
        for pair in value.split(";"):
            pair = pair.strip()
            if pair and not is_server_cookie(pair.partition("=")[0]):
                kept.append(pair)
    return "; ".join(kept) or None


def sets_server_cookie(set_cookie: str) -> bool:
    """Whether a `Set-Cookie` value would set one of the server's cookies in a browser.

    A pair without `=` is a nameless cookie whose value browsers send as a bare word, and
    `=name=value` is a nameless one they send as `name=value`: both count by what is sent.
    """
    pair = set_cookie.split(";", 1)[0]
    name, equals, rest = pair.partition("=")
    if not name.strip() and equals:
        name = rest.partition("=")[0]
    return is_server_cookie(name)


# -- the visitor's credentials ------------------------------------------------------------------


def query_without_token(raw_query: str) -> str:
    """A raw query string without the `token` parameter, however it is percent-encoded;
    every other parameter is kept byte for byte, in order."""
    kept = [
        part
        for part in raw_query.split("&")
        if unquote(part.partition("=")[0].replace("+", " ")) != TOKEN_PARAM
    ]
    return "&".join(kept)


def url_without_token(url: str) -> str:
    """A URL (e.g. a `Referer`) without a `token` query parameter."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.query:
        return url
    return urlunsplit(parts._replace(query=query_without_token(parts.query)))


def bearer_credential(authorization: str) -> str | None:
    """The credential of a `Bearer` `Authorization` value, None for any other scheme.

    The scheme is matched case-insensitively (RFC 9110 §11.1), so `bearer x` and `BEARER x`
    are read as the API reads them.
    """
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        return None
    return credential


def is_server_bearer(authorization: str, is_our_key_id: Callable[[str], bool]) -> bool:
    """Whether an `Authorization` value carries one of our credentials: an access token
    signed with one of our keys (valid or not), or an API key. Anything else is the app's."""
    credential = bearer_credential(authorization)
    if credential is None:
        return False
    if credential.startswith(API_KEY_PREFIX):
        return True
    try:
        kid = jwt.get_unverified_header(credential).get("kid")
    except jwt.InvalidTokenError:
        return False
    return isinstance(kid, str) and is_our_key_id(kid)


# -- redirects ------------------------------------------------------------------------------------


def _browser_form(location: str) -> str:
    """The reference as a browser reads it: C0 controls and spaces trimmed, tabs and newlines
    removed, and `\\` read as `/` (WHATWG URL parsing for http and https)."""
    trimmed = location.strip("".join(map(chr, range(0x21))))
    return trimmed.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")


def location_in_preview(
    location: str, prefix: str, app_path: str, own_addresses: Collection[tuple[str, int]]
) -> str | None:
    """Where a `Location` answered by the app points, as a path under the preview's prefix
    (`/preview/{id}` on the app's origin, "" on the preview's own), or None when it leaves
    the preview.

    `app_path` is the path the app was asked for (relative references resolve against it, in
    the app's own URL space, so `../` cannot climb out of the prefix). An absolute URL stays
    in the preview only when its host and port are ours (`own_addresses`: the preview's
    public host and the app's own address as it sees it). A path the app already put under
    the prefix (it honours `X-Forwarded-Prefix`) is kept as it is.
    """
    try:
        base = URL.build(scheme="http", host=_APP_HOST, path=app_path or "/", encoded=True)
        target = base.join(URL(_browser_form(location)))
    except (ValueError, TypeError):
        return None
    if target.host != _APP_HOST:
        if target.scheme not in ("http", "https") or target.host is None:
            return None
        if (target.host.lower(), target.port) not in own_addresses:
            return None
    path = target.raw_path or "/"
    if path != prefix and not path.startswith(f"{prefix}/"):
        path = prefix + path
    if path.startswith("//"):
        # The path `//host/...` of this origin: written so, a browser would go to `host`.
        path = "/." + path
    if target.raw_query_string:
        path += f"?{target.raw_query_string}"
    if target.raw_fragment:
        path += f"#{target.raw_fragment}"
    return path


def address(scheme: str, authority: str) -> tuple[str, int] | None:
    """(host, port) of an authority such as a `Host` header, the scheme's port by default."""
    try:
        url = URL(f"{scheme}://{authority}")
    except ValueError:
        return None
    if url.host is None or url.port is None:
        return None
    return url.host.lower(), url.port
