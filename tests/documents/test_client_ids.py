"""Yjs client ids beyond what JavaScript numbers hold exactly (2**53 - 1).

yrs reads client ids as 64-bit integers; Yjs (lib0) reads them into JavaScript numbers, so
an id above Number.MAX_SAFE_INTEGER is rounded in every browser. A text written under such
an id then exists under one id on the server and another in every browser: the browsers'
edits next to it, or deleting it, name an item the server does not have and are refused.
One editor's crafted update would leave text nobody in a browser can edit around or remove.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pycrdt
import pytest

from collab.documents.room import check_update
from collab.documents.update_scan import InvalidUpdate
from tests.documents.test_document_sync import connect, file_text, url
from tests.live_support import LiveSession
from tests.node_agent import NodeAgent
from tests.support import Client
from tests.yjs_fuzz import var_uint

JS_MAX = 2**53 - 1


def written_by(client_id: int, text: str) -> bytes:
    """A Yjs update inserting `text` under `client_id` (pycrdt refuses ids over 53 bits,
    so the id of client 1 is rewritten)."""
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=1)
    doc.get("content", type=pycrdt.Text).insert(0, text)
    update = doc.get_update()
    assert update[:3] == b"\x01\x01\x01"  # one client, one struct, client id 1
    return update[:2] + var_uint(client_id) + update[3:]


@pytest.mark.unit
def test_client_ids_javascript_cannot_hold_are_refused() -> None:
    check_update(written_by(JS_MAX, "fits"))
    for client_id in (JS_MAX + 1, 2**53 + 1, 2**63 + 5, 2**64 - 1):
        with pytest.raises(InvalidUpdate):
            check_update(written_by(client_id, "rounded"))
    # Named as an origin, a parent or in the delete set: refused as well.
    base: pycrdt.Doc[Any] = pycrdt.Doc(client_id=7)
    text = base.get("content", type=pycrdt.Text)
    text.insert(0, "ab")
    before = base.get_state()
    text.insert(1, "x")
    edit = base.get_update(before)
    assert var_uint(7) in edit
    # The origin (7, 0): the struct's own client is 7 too, rewrite the origin's only.
    struct_client = edit.index(b"\x07")
    origin = edit.index(b"\x07", struct_client + 1)
    hostile = edit[:origin] + var_uint(2**60) + edit[origin + 1 :]
    with pytest.raises(InvalidUpdate):
        check_update(hostile)
    # Deleting under such a client: refused.
    deletion = b"\x00\x01" + var_uint(2**60) + b"\x01\x00\x01"
    with pytest.raises(InvalidUpdate):
        check_update(deletion)
    check_update(b"\x00\x01" + var_uint(JS_MAX) + b"\x01\x00\x01")


async def test_text_under_a_rounded_client_id_never_reaches_the_document(
    client: Client, live: LiveSession, agent: NodeAgent
) -> None:
    """An editor's crafted update under client id 2**63+5 is refused; a browser user keeps
    editing the file (before: stored, and every later edit of the browser next to it was
    refused `invalid_update`, so the text could be neither edited around nor deleted)."""
    room = live.room()
    namespace = f"/yjs|{room}"
    attacker = await agent.call(
        "rawConnect", name="attacker", url=url(client), namespace=namespace, token=live.editor.token
    )
    assert attacker["connected"], attacker
    sent = await agent.call(
        "rawEmit", name="attacker", event="sync-update", bytes=list(written_by(2**63 + 5, "X"))
    )
    assert [e["code"] for e in sent["syncErrors"]] == ["invalid_update"], sent
    await asyncio.sleep(0.2)

    assert (await connect(agent, client, "victim", live.owner.token, room))["synced"]
    await agent.call("insert", name="victim", index=-1, text="typed")
    await asyncio.sleep(0.5)
    assert await agent.call("syncErrors", name="victim") == []
    assert await file_text(client, live) == "typed"
