"""Deleting an account stops the deployments that person started, in anyone's session."""

from __future__ import annotations

from tests.accounts_support import STRONG_PASSWORD
from tests.deploy_support import deploy, session_with_files, wait_status
from tests.node_agent import NodeAgent
from tests.support import Client


async def test_an_editors_deployment_stops_when_the_editor_deletes_their_account(
    client: Client, agent: NodeAgent
) -> None:
    live = await session_with_files(client, agent, "html", {"index.html": "hi"}, "del")
    started = await deploy(client, live.editor, live)
    did = started["deployment_id"]
    await wait_status(client, live.owner, did, "running")

    gone = await client.delete(
        "/api/auth/me", json={"password": STRONG_PASSWORD}, headers=live.editor.headers
    )
    assert gone.status == 202, await gone.text()
    stopped = await wait_status(client, live.owner, did, "stopped")
    assert stopped["reason"] == "account deleted"
    # The owner's session lives on.
    session = await client.get(f"/api/sessions/{live.session_id}", headers=live.owner.headers)
    assert (await session.json())["status"] == "active"
