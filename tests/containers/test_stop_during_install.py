"""A deployment stopped while its dependencies were being fetched or built. The stop
freed the per-user quota at once, but the install went on (pip or npm on the server, then a
build container) for up to the install time limit: deploy-and-stop in a loop ran any number
of installs at once. The install now ends with its deployment."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.deploy_support import deploy, session_with_files, wait_status
from tests.node_agent import NodeAgent
from tests.support import free_port


async def test_stopping_a_deployment_ends_its_install(
    make_client: Any, agent: NodeAgent, runtime_images: str
) -> None:
    # An index that accepts pip's connection and never answers: the fetch hangs there.
    connected = asyncio.Event()
    closed = asyncio.Event()

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.set()
        while await reader.read(4096):
            pass
        closed.set()  # pip went away
        writer.close()

    port = free_port()
    server = await asyncio.start_server(hang, "127.0.0.1", port)
    try:
        client = await make_client(
            docker_host=runtime_images,
            deploy_pip_index_url=f"http://127.0.0.1:{port}/simple",
            deploy_install_timeout_seconds=120,
        )
        files = {"main.py": "print('x')\n", "requirements.txt": "hangingdemo==1.0\n"}
        live = await session_with_files(client, agent, "python", files, "si")
        started = await deploy(client, live.owner, live)
        did = started["deployment_id"]
        await asyncio.wait_for(connected.wait(), 30)
        response = await client.post(f"/api/deployments/{did}/stop", headers=live.owner.headers)
        assert response.status == 202
        assert (await wait_status(client, live.owner, did, "stopped"))["status"] == "stopped"
        # pip is ended with its deployment (it would wait on the index for minutes).
        await asyncio.wait_for(closed.wait(), 10)
    finally:
        server.close()
