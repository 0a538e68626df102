"""A malformed multipart/form-data import (no boundary, a body without its
boundary, a form cut short) answered 500; it is a bad request (422 invalid_archive)."""

from __future__ import annotations

import pytest

from tests.support import Client
from tests.workspace_support import person


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"garbage"),
        ("multipart/form-data; boundary=xx", b"garbage"),
        (
            "multipart/form-data; boundary=xx",
            b'--xx\r\nContent-Disposition: form-data; name="f"; filename="a.zip"\r\n\r\nPK',
        ),
    ],
)
async def test_a_malformed_form_is_refused_not_a_500(
    client: Client, content_type: str, body: bytes
) -> None:
    owner = await person(client, "formfuzz")
    status, session = await owner.call("post", "/api/sessions", {"name": "S", "language": "python"})
    assert status == 201, session
    response = await client.post(
        f"/api/sessions/{session['session_id']}/import",
        data=body,
        headers={
            "Authorization": f"Bearer {owner.pair['access_token']}",
            "Content-Type": content_type,
        },
    )
    answer = await response.json()
    assert response.status == 422, answer
    assert answer["error"]["code"] == "invalid_archive", answer
