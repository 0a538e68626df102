"""A zip, or an import into existing files, that makes a path both a file and a
folder was taken, and then no checkout or container could hold the files (a git push
answered 500)."""

from __future__ import annotations

from tests.archive.zip_support import import_zip, make_zip
from tests.support import Client
from tests.workspace_support import person


async def test_a_path_that_is_a_file_and_a_folder_is_refused(client: Client) -> None:
    owner = await person(client, "zipclash")
    status, session = await owner.call("post", "/api/sessions", {"name": "S", "language": "python"})
    assert status == 201, session
    sid = session["session_id"]
    headers = {"Authorization": f"Bearer {owner.pair['access_token']}"}

    status, body = await import_zip(client, sid, headers, make_zip({"a": "1", "a/b": "2"}))
    assert status == 422 and body["error"]["code"] == "invalid_archive", body
    assert body["error"]["details"]["entry"] == "a"

    status, body = await import_zip(client, sid, headers, make_zip({"src/app.py": "x"}))
    assert status == 200, body
    # A file where a folder of the session is, or a file inside a file of it: refused whole.
    for clash in ({"src": "1", "ok.txt": "2"}, {"src/app.py/inner": "1"}):
        status, body = await import_zip(client, sid, headers, make_zip(clash))
        assert status == 422 and body["error"]["code"] == "invalid_archive", body
    status, body = await import_zip(client, sid, headers, make_zip({"src/other.py": "y"}))
    assert status == 200 and body["created"] == ["src/other.py"], body
