"""The redirect that drops `?token=` from a preview URL repeated the path as sent, so
`//evil.example/?token=x` answered `Location: //evil.example/`: a link on a preview's origin
that sends its visitor elsewhere (the proxy refuses exactly that from the app itself)."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.deploy_support import browser, deploy, preview_origin, session_with_files, wait_status
from tests.node_agent import NodeAgent
from tests.support import Client


async def test_the_token_redirect_stays_on_the_preview(client: Client, agent: NodeAgent) -> None:
    live = await session_with_files(client, agent, "html", {"index.html": "hi"}, "tr")
    started = await deploy(client, live.owner, live, public=True)
    did = started["deployment_id"]
    assert (await wait_status(client, live.owner, did, "running", "failed"))["status"] == "running"
    site = preview_origin(client, did)
    async with browser() as visitor:
        for path in ("//evil.example/", "//evil.example", "/\\evil.example/", "/%2F/x"):
            response = await visitor.get(f"{site}{path}?token=x&a=1", allow_redirects=False)
            assert response.status == 302, (path, response.status)
            location = response.headers["Location"]
            # A browser resolves it against the preview's URL: it must stay there.
            resolved = urlsplit(location.replace("\\", "/"))
            assert not resolved.netloc, (path, location)
            assert location.startswith("/") and not location.startswith(("//", "/\\")), location
            assert location.endswith("?a=1"), location
    await client.post(f"/api/deployments/{did}/stop", headers=live.owner.headers)
