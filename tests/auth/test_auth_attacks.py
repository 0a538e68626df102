"""What an attacker tries against accounts: bad tokens, floods, hostile input."""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
import warnings
from typing import Any

import jwt
import jwt.warnings
import pytest

from auth.keys import SigningKeys
from auth.rate_limit import client_network
from tests.accounts_support import STRONG_PASSWORD, bearer, register
from tests.support import TEST_SECRET, Client

ISSUER_OF_TEST_CLIENT = "collab"  # no COLLAB_PUBLIC_URL in the test settings


def _claims(user_id: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": user_id,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "iss": ISSUER_OF_TEST_CLIENT,
        "aud": "collab-api",
        "typ": "access",
    } | changes


def _sign(claims: dict[str, Any], key: bytes = TEST_SECRET.encode(), **kw: Any) -> str:
    kid = SigningKeys(key).current_kid
    with warnings.catch_warnings():  # pyjwt warns that our key is short for HS512: intended
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(
            claims, key, algorithm=kw.pop("algorithm", "HS256"), headers={"kid": kw.pop("kid", kid)}
        )


def _unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    kid = SigningKeys(TEST_SECRET.encode()).current_kid
    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{part(claims)}."


async def _me(client: Client, token: str) -> tuple[int, str]:
    response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    body = await response.json()
    return response.status, body.get("error", {}).get("code", "")


async def test_a_well_formed_token_of_ours_is_accepted(client: Client) -> None:
    pair = await register(client, "amy")
    assert (await _me(client, _sign(_claims(pair["user"]["user_id"]))))[0] == 200


@pytest.mark.parametrize(
    ("forge", "code"),
    [
        ("expired", "token_expired"),
        ("wrong_key", "invalid_token"),
        ("wrong_audience", "invalid_token"),
        ("wrong_issuer", "invalid_token"),
        ("unknown_kid", "invalid_token"),
        ("alg_none", "invalid_token"),
        ("hs512", "invalid_token"),
        ("no_jti", "invalid_token"),
        ("refresh_as_access", "invalid_token"),
        ("garbage", "invalid_token"),
        ("missing", "unauthorized"),
    ],
)
async def test_bad_access_tokens_are_refused(client: Client, forge: str, code: str) -> None:
    pair = await register(client, "ben")
    uid = pair["user"]["user_id"]
    tokens = {
        "expired": _sign(_claims(uid, iat=int(time.time()) - 3600, exp=int(time.time()) - 60)),
        "wrong_key": _sign(_claims(uid), key=b"another-key-that-is-32-bytes-long!!"),
        "wrong_audience": _sign(_claims(uid, aud="someone-else")),
        "wrong_issuer": _sign(_claims(uid, iss="https://evil.example")),
        "unknown_kid": _sign(_claims(uid), kid="0123456789abcdef"),
        "alg_none": _unsigned(_claims(uid)),
        "hs512": _sign(_claims(uid), algorithm="HS512"),
        "no_jti": _sign({k: v for k, v in _claims(uid).items() if k != "jti"}),
        "refresh_as_access": pair["refresh_token"],
        "garbage": "not.a.jwt",
        "missing": "",
    }
    status, got = await _me(client, tokens[forge])
    assert (status, got) == (401, code)


async def test_rotating_the_key_keeps_old_tokens_valid(make_client: Any) -> None:
    old_client = await make_client()
    pair = await register(old_client, "cara")
    rotated = await make_client(
        secret_key="a-brand-new-secret-key-of-at-least-32-bytes!",
        previous_secret_keys=TEST_SECRET,
    )
    assert (await _me(rotated, pair["access_token"]))[0] == 200
    fresh = await rotated.post(
        "/api/auth/login", json={"login": "cara", "password": STRONG_PASSWORD}
    )
    new_token = (await fresh.json())["access_token"]
    assert (
        jwt.get_unverified_header(new_token)["kid"]
        != jwt.get_unverified_header(pair["access_token"])["kid"]
    )
    dropped = await make_client(secret_key="a-brand-new-secret-key-of-at-least-32-bytes!")
    assert await _me(dropped, pair["access_token"]) == (401, "invalid_token")


async def test_login_is_rate_limited_per_account_with_retry_after(client: Client) -> None:
    await register(client, "dan")
    statuses = []
    for _ in range(12):
        response = await client.post(
            "/api/auth/login", json={"login": "dan", "password": "Wrong-pass-1"}
        )
        statuses.append(response.status)
    assert statuses[:5] == [401] * 5
    assert 429 in statuses
    limited = await client.post(
        "/api/auth/login", json={"login": "dan", "password": STRONG_PASSWORD}
    )
    assert limited.status == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert (await limited.json())["error"]["code"] == "rate_limited"


async def test_failures_slow_the_account_down_progressively(client: Client) -> None:
    await register(client, "eve")
    for _ in range(5):
        await client.post("/api/auth/login", json={"login": "eve", "password": "Wrong-pass-1"})
    blocked = await client.post(
        "/api/auth/login", json={"login": "eve", "password": STRONG_PASSWORD}
    )
    assert blocked.status == 429 and blocked.headers["Retry-After"] == "1"
    time.sleep(1.1)
    # Not locked out: after the delay the owner gets in, and the slate is wiped.
    ok = await client.post("/api/auth/login", json={"login": "eve", "password": STRONG_PASSWORD})
    assert ok.status == 200


async def test_register_is_rate_limited_per_ip(client: Client) -> None:
    statuses = []
    for i in range(11):
        response = await client.post(
            "/api/auth/register",
            json={"email": f"u{i}@x.org", "username": f"user{i}", "password": "weak"},
        )
        statuses.append(response.status)
    assert statuses[:10] == [422] * 10 and statuses[10] == 429


def test_ipv6_clients_are_counted_per_64() -> None:
    assert client_network("2001:db8:1:2::1") == client_network("2001:db8:1:2:ffff::9")
    assert client_network("2001:db8:1:2::1") != client_network("2001:db8:1:3::1")
    assert client_network("::ffff:10.0.0.1") == "10.0.0.1"
    assert client_network("192.0.2.7") == "192.0.2.7"


HOSTILE = ["' OR 1=1 --", '"; DROP TABLE users; --', "$1", "\\x00", "%s%s%n", "\u202e"]


@pytest.mark.parametrize("value", [*HOSTILE, "x" * 1_000_000])
async def test_hostile_strings_in_every_account_field_never_500(client: Client, value: str) -> None:
    pair = await register(client, "fay")
    requests: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
        (
            "post",
            "/api/auth/register",
            {
                "email": value,
                "username": value,
                "password": value,
                "first_name": value,
                "last_name": value,
            },
            {},
        ),
        ("post", "/api/auth/login", {"login": value, "password": value}, {}),
        ("post", "/api/auth/refresh", {"refresh_token": value}, {}),
        ("post", "/api/auth/logout", {"refresh_token": value}, {}),
        ("post", "/api/auth/verify-email", {"token": value}, {}),
        ("post", "/api/auth/password/forgot", {"email": value}, {}),
        ("post", "/api/auth/password/reset", {"token": value, "password": value}, {}),
        (
            "patch",
            "/api/auth/me",
            {
                "first_name": value,
                "last_name": value,
                "username": value,
                "profile_image_url": value,
            },
            bearer(pair),
        ),
    ]
    for method, path, body, headers in requests:
        response = await getattr(client, method)(
            path,
            data=io.BytesIO(json.dumps(body).encode()),
            headers=headers | {"Content-Type": "application/json"},
        )
        assert response.status in (204, 400, 401, 409, 410, 413, 422, 429), (path, response.status)
        if response.status != 204:
            assert "error" in await response.json()
    assert (await client.get("/api/auth/me", headers=bearer(pair))).status == 200


async def test_nul_bytes_are_a_422_not_a_database_error(client: Client) -> None:
    response = await client.post(
        "/api/auth/register",
        json={
            "email": "nul@example.org",
            "username": "nul",
            "password": STRONG_PASSWORD,
            "first_name": "a\x00b",
        },
    )
    assert response.status == 422
    assert "NUL" in (await response.json())["error"]["details"]["first_name"]


@pytest.mark.parametrize("body", [b"{", b"[1, 2]", b"", b"\xff\xfe", b"null"])
async def test_bad_json_is_a_400_invalid_json(client: Client, body: bytes) -> None:
    response = await client.post(
        "/api/auth/login", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_json"


async def test_x_forwarded_for_is_believed_only_from_trusted_proxies(
    make_client: Any, database_url: str
) -> None:
    import asyncpg

    spoofed = {"X-Forwarded-For": "203.0.113.9"}
    untrusted = await make_client()
    await untrusted.post("/api/auth/login", json={"login": "x", "password": "y"}, headers=spoofed)
    trusted = await make_client(trusted_proxies="127.0.0.1/32")
    await trusted.post("/api/auth/login", json={"login": "x", "password": "y"}, headers=spoofed)
    conn = await asyncpg.connect(database_url)
    try:
        ips = [
            r["ip"]
            for r in await conn.fetch(
                "SELECT host(ip_address) AS ip FROM audit_logs WHERE action = 'user.login_failed' "
                "ORDER BY log_id"
            )
        ]
    finally:
        await conn.close()
    assert ips == ["127.0.0.1", "203.0.113.9"]
