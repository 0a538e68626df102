"""URL spellings that reach loopback once the HTTP client normalises them.

Only loopback traffic: the receiver listens on 127.0.0.1 and no host is allowed, so a POST
arriving there is the guard letting an internal address through."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from collab.webhooks import ssrf
from tests.webhooks.receiver import Receiver
from tests.workspace_support import person, workspace

GUARDED = {"webhook_allowed_hosts": (), "webhook_poll_seconds": 0.1}

# Spellings of 127.0.0.1 that Python's urlsplit keeps as they are but yarl (what aiohttp
# dials) folds to the canonical address: full-width digits, ideographic full stops.
FOLDED = ["\u2460\u2461\u2466.0.0.1", "127\u30020\u30020\u30021", "\uff11\uff12\uff17.0.0.1"]
# Numeric forms the socket layer maps onto 127.0.0.1.
LEGACY = ["2130706433", "0x7f.1", "0177.0.0.1", "127.1", "0x7f000001"]


@pytest.mark.parametrize("host", FOLDED + LEGACY)
def test_the_guard_refuses_every_spelling_of_loopback(host: str) -> None:
    target = ssrf.parse_url(f"http://{host}:8080/hook")
    assert ssrf.host_refusal(target.host, frozenset()) is not None, target


@pytest.mark.parametrize(
    "address",
    [
        "fec0::1",  # IPv6 site-local (deprecated, still routed inside some networks)
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2002:a9fe:a9fe::",  # 6to4 of the metadata address
    ],
)
def test_ipv6_forms_of_internal_addresses_are_refused(address: str) -> None:
    assert ssrf.address_refusal(address) is not None
    assert ssrf.host_refusal(ssrf.parse_url(f"http://[{address}]/").host, frozenset())


def test_a_6to4_address_of_a_public_one_is_public() -> None:
    assert ssrf.address_refusal("2002:101:101::1") is None  # 1.1.1.1


def test_public_names_and_the_allowed_loopback_still_pass() -> None:
    for url in ("https://hooks.example.com/x", "http://example.com:8080/", "http://1.1.1.1/"):
        assert ssrf.host_refusal(ssrf.parse_url(url).host, frozenset()) is None, url
    target = ssrf.parse_url("http://127.0.0.1:9/hook")
    assert ssrf.host_refusal(target.host, frozenset({"127.0.0.1"})) is None


@pytest.mark.parametrize("host", FOLDED)
async def test_a_folded_loopback_url_is_refused_and_never_dialled(
    make_client: Any, receiver: Receiver, host: str
) -> None:
    client = await make_client(**GUARDED)
    ann = await person(client, "ssrffold")
    ws = await workspace(ann)
    port = receiver.url.split(":")[2].split("/")[0]
    url = f"http://{host}:{port}/hook"
    status, body = await ann.call(
        "post", f"/api/workspaces/{ws}/webhooks", {"url": url, "events": ["session.created"]}
    )
    if status == 201:
        hook = f"/api/workspaces/{ws}/webhooks/{body['webhook_id']}"
        assert (await ann.call("post", hook + "/test"))[0] == 202
        await asyncio.sleep(1.5)
        assert receiver.received == [], "a delivery reached loopback"
    assert status == 422 and "url" in body["error"]["details"], body


# Hosts no resolver takes: an empty label, a label over 63 characters, a bad A-label.
UNRESOLVABLE = ["a..b.example.com", "a" * 70 + ".example.com", "xn--zz.example.com"]


@pytest.mark.parametrize("host", UNRESOLVABLE)
async def test_an_unresolvable_host_is_a_422_not_a_500(make_client: Any, host: str) -> None:
    client = await make_client(**GUARDED)
    ann = await person(client, "ssrfidna")
    ws = await workspace(ann)
    status, body = await ann.call(
        "post",
        f"/api/workspaces/{ws}/webhooks",
        {"url": f"http://{host}/hook", "events": ["session.created"]},
    )
    assert status == 422 and "url" in body["error"]["details"], body


@pytest.mark.parametrize("host", UNRESOLVABLE)
async def test_a_stored_unresolvable_url_is_an_attempt_that_failed(
    make_client: Any, db: Any, host: str
) -> None:
    """A URL stored before the check (or by an older version) fails its attempts, recorded,
    instead of raising out of the worker and being claimed again every lease, for ever."""
    client = await make_client(**GUARDED)
    ann = await person(client, "ssrfstored")
    ws = await workspace(ann)
    status, made = await ann.call(
        "post",
        f"/api/workspaces/{ws}/webhooks",
        {"url": "https://hooks.example.com/x", "events": ["session.created"]},
    )
    assert status == 201, made
    await db.execute(
        "UPDATE webhooks SET url = $2 WHERE webhook_id = $1::uuid",
        made["webhook_id"],
        f"http://{host}/hook",
    )
    hook = f"/api/workspaces/{ws}/webhooks/{made['webhook_id']}"
    assert (await ann.call("post", hook + "/test"))[0] == 202
    items: list[Any] = []
    for _ in range(50):
        items = (await ann.call("get", hook + "/deliveries"))[1]["items"]
        if items:
            break
        await asyncio.sleep(0.1)
    assert items and items[0]["status_code"] is None and items[0]["error"], items


async def test_a_refused_name_does_not_tell_the_address_it_resolves_to() -> None:
    """The refusal is recorded in the deliveries any workspace admin reads (and any account
    can make a workspace): naming the address would map the server's network by DNS."""
    from collab.webhooks.delivery import GuardedResolver

    resolver = GuardedResolver(frozenset())
    try:
        with pytest.raises(OSError) as refused:
            await resolver.resolve("localhost", 80)
    finally:
        await resolver.close()
    message = str(refused.value)
    assert "loopback" in message and "localhost" in message
    assert "127.0.0.1" not in message and "::1" not in message
    reason = ssrf.resolved_refusal("db.internal", ["93.184.216.34", "10.1.2.3"], ())
    assert reason is not None and "10.1.2.3" not in reason and "private" in reason
