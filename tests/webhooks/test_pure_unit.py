"""Signatures, SSRF refusals and the retry schedule: pure, no I/O."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from collab.webhooks import backoff, signing, ssrf

pytestmark = pytest.mark.unit


def test_a_signature_verifies_and_a_changed_body_or_old_timestamp_does_not() -> None:
    secret, body = signing.new_secret(), b'{"id":"1"}'
    header = signing.signature_header(secret, 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=")
    assert signing.verify(secret, header, body, now=1_700_000_010)
    assert not signing.verify(secret, header, body + b" ", now=1_700_000_010)
    assert not signing.verify("whsec_other", header, body, now=1_700_000_010)
    assert not signing.verify(secret, header, body, now=1_700_000_000 + 301)
    assert not signing.verify(secret, "v1=abc", body, now=1_700_000_000)


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"k", b"42.{}", hashlib.sha256).hexdigest()
    assert signing.signature_header("k", 42, b"{}") == f"t=42,v1={expected}"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://localhost:8000/",
        "http://[::1]/",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://172.16.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fe80::1]/",
        "http://[fd00:ec2::254]/",
    ],
)
def test_internal_hosts_are_refused(url: str) -> None:
    target = ssrf.parse_url(url)
    assert ssrf.host_refusal(target.host, frozenset()) is not None


def test_an_allowed_host_passes_and_public_ones_pass() -> None:
    assert ssrf.host_refusal("127.0.0.1", frozenset({"127.0.0.1"})) is None
    assert ssrf.host_refusal("hooks.example.com", frozenset()) is None
    assert ssrf.host_refusal("93.184.216.34", frozenset()) is None


def test_resolved_addresses_are_checked() -> None:
    assert ssrf.resolved_refusal("evil.example", ["93.184.216.34", "10.0.0.1"], ()) is not None
    assert ssrf.resolved_refusal("ok.example", ["93.184.216.34"], ()) is None
    assert ssrf.resolved_refusal("in.example", ["10.0.0.1"], {"in.example"}) is None


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "http://user:pw@example.com/", "not a url", "http:///x"]
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ssrf.RefusedUrl):
        ssrf.parse_url(url)


def test_backoff_grows_with_jitter_and_stops_after_24_hours() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rng = random.Random(1)
    delays = []
    for attempts in range(1, 8):
        due = backoff.next_attempt(attempts, start, start, rng=rng)
        assert due is not None
        delays.append((due - start).total_seconds())
    for attempts, delay in enumerate(delays, start=1):
        ceiling = min(3600, 10 * 2 ** (attempts - 1))
        assert ceiling / 2 <= delay <= ceiling
    late = start + timedelta(hours=23, minutes=59)
    last = backoff.next_attempt(30, start, late, rng=rng)
    assert last is not None and last <= start + timedelta(hours=24)
    assert backoff.next_attempt(30, start, start + timedelta(hours=24), rng=rng) is None
