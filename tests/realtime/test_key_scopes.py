"""An API key without the `read` scope (only `deploy`, or only `admin`) may not read
anything over REST (403 `insufficient_scope`); over Socket.IO it read every file of its
user's sessions (a document namespace's sync) and each session's participants, files and
deployments (`session:join`). A key's scopes narrow its user's roles, never widen them."""

from __future__ import annotations

import pytest
import socketio

from tests.auth.test_api_keys import create_key, key_headers
from tests.documents.test_document_sync import url
from tests.live_support import LiveSession
from tests.node_agent import NodeAgent
from tests.realtime.test_socket_handshake import release
from tests.support import Client


async def refusal(client: Client, namespace: str, token: str) -> str | None:
    """The connect_error's message for `namespace` (None if it connected)."""
    errors: list[object] = []
    sio = socketio.AsyncClient(reconnection=False)
    sio.on("connect_error", lambda data: errors.append(data), namespace=namespace)
    try:
        await sio.connect(
            str(client.make_url("/")),
            auth={"token": token},
            namespaces=[namespace],
            transports=["websocket"],
            wait_timeout=5,
        )
    except socketio.exceptions.ConnectionError:
        await release(sio)
        return str(errors[0]["message"]) if errors and isinstance(errors[0], dict) else "refused"
    await sio.disconnect()
    return None


@pytest.mark.parametrize("scopes", [["deploy"], ["admin"]])
async def test_a_key_without_read_reads_nothing_over_socketio(
    client: Client, live: LiveSession, agent: NodeAgent, scopes: list[str]
) -> None:
    assert (
        await agent.call(
            "connect", name="ed", url=url(client), room=live.room(), token=live.editor.token
        )
    )["synced"]
    await agent.call("insert", name="ed", index=0, text="secret = 42\n")
    await agent.call("waitText", name="ed", text="secret = 42\n")
    key = (await create_key(client, live.owner.pair, scopes))["key"]
    response = await client.get(
        f"/api/sessions/{live.session_id}/files/main.py", headers=key_headers(key)
    )
    assert response.status == 403  # as REST says

    sneaked = await agent.call(
        "connect", name="key", url=url(client), room=live.room(), token=key, timeout=3000
    )
    assert sneaked["errors"] == ["forbidden"], (sneaked, await agent.call("text", name="key"))
    assert await refusal(client, f"/yjs|{live.room()}", key) == "forbidden"
    assert await refusal(client, "/", key) == "forbidden"

    # A read key still does both.
    reader = (await create_key(client, live.owner.pair, ["read"]))["key"]
    assert await refusal(client, f"/yjs|{live.room()}", reader) is None
    assert await refusal(client, "/", reader) is None
