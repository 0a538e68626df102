"""A session with files, deployed, waiting for a deployment's status, and a browser for its
preview's own origin."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from collab.state import SETTINGS
from tests.live_support import LiveSession, Member, live_session
from tests.node_agent import NodeAgent
from tests.support import Client


async def session_with_files(
    client: Client, agent: NodeAgent, language: str, files: dict[str, str], prefix: str = ""
) -> LiveSession:
    live = await live_session(client, prefix)
    await client.patch(
        f"/api/sessions/{live.session_id}", json={"language": language}, headers=live.owner.headers
    )
    url = str(client.make_url("")).rstrip("/")
    for i, (path, text) in enumerate(files.items()):
        name = f"{prefix}w{i}"
        await agent.call(
            "connect", name=name, url=url, room=live.room(path), token=live.owner.token
        )
        await agent.call("insert", name=name, index=0, text=text)
        await agent.call("close", name=name)
    await asyncio.sleep(0.3)
    return live


def preview_origin(client: Client, deployment_id: str) -> str:
    """`http://{deployment_id}.localhost:{port}`: where this app serves that preview."""
    return client.app[SETTINGS].preview_url(deployment_id).rstrip("/")


async def deploy(client: Client, who: Member, live: LiveSession, **body: Any) -> dict[str, Any]:
    response = await client.post(
        f"/api/sessions/{live.session_id}/deployments", json=body, headers=who.headers
    )
    assert response.status == 202, await response.text()
    started: dict[str, Any] = await response.json()
    assert started["status"] == "starting"
    assert started["deployment_url"] == preview_origin(client, started["deployment_id"]) + "/"
    return started


async def wait_status(
    client: Client, who: Member, deployment_id: str, *wanted: str
) -> dict[str, Any]:
    for _ in range(150):
        response = await client.get(f"/api/deployments/{deployment_id}", headers=who.headers)
        body: dict[str, Any] = await response.json()
        if body["status"] in wanted:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"deployment stuck in {body}")


class Loopback(AbstractResolver):
    """Every name is 127.0.0.1, as browsers resolve `localhost` and its subdomains (the C
    library here does not resolve `*.localhost`)."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host="127.0.0.1",
                port=port,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        pass


def browser(cookies: bool = False) -> aiohttp.ClientSession:
    """An HTTP client that reaches `*.localhost` previews; with `cookies`, it keeps cookies as
    a browser does (by host and path), else it sends exactly those a test gives it."""
    jar: aiohttp.abc.AbstractCookieJar = (
        aiohttp.CookieJar() if cookies else aiohttp.DummyCookieJar()
    )
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(resolver=Loopback()), cookie_jar=jar
    )
