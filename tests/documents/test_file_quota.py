"""A session holds a bounded number of files: one more is refused, nothing stored is lost."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.live_support import live_session
from tests.node_agent import NodeAgent


async def test_creating_one_file_more_than_the_quota_is_refused(
    make_client: Any, agent: NodeAgent
) -> None:
    client = await make_client(max_files_per_scope=2)
    live = await live_session(client)
    url = str(client.make_url("")).rstrip("/")
    for path in ("a.py", "b.py", "c.py"):
        result = await agent.call(
            "connect", name=path, url=url, room=live.room(path), token=live.editor.token
        )
        assert result["synced"]
        await agent.call("insert", name=path, index=0, text=f"# {path}")
        await asyncio.sleep(0.3)
    assert await agent.call("syncErrors", name="a.py") == []
    errors = await agent.call("syncErrors", name="c.py")
    assert [e["code"] for e in errors] == ["quota_exceeded"]
    response = await client.get(
        f"/api/sessions/{live.session_id}/files", headers=live.owner.headers
    )
    assert [f["path"] for f in await response.json()] == ["a.py", "b.py"]
    # Existing files still take edits.
    await agent.call("insert", name="a.py", index=-1, text="!")
    await agent.call("waitText", name="a.py", text="# a.py!")
    await asyncio.sleep(0.3)
    text = await client.get(
        f"/api/sessions/{live.session_id}/files/a.py", headers=live.owner.headers
    )
    assert await text.text() == "# a.py!"
