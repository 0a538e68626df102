"""A workspace PATCH with null for a field that cannot be null (`is_public`,
`is_template`, `status`, `require_mfa`) was written as SQL NULL: a 500. A null is ignored,
as it already was for `name`."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workspace_support import person, workspace


@pytest.mark.parametrize("field", ["is_public", "is_template", "status", "require_mfa", "name"])
async def test_a_null_is_not_a_500(client: Any, field: str) -> None:
    ann = await person(client, "wsnull")
    ws = await workspace(ann)
    status, body = await ann.call("patch", f"/api/workspaces/{ws}", {field: None})
    assert status == 200, body
    assert body["name"] == "Project X" and body["is_public"] is False
    assert body["status"] == "active" and body["require_mfa"] is False
    status, body = await ann.call(
        "patch", f"/api/workspaces/{ws}", {field: None, "description": "kept"}
    )
    assert status == 200 and body["description"] == "kept", body
