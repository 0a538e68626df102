"""Deployments need a real Docker Engine with the catalogue's images built."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import Client


@pytest.fixture
async def client(make_client: Any, runtime_images: str) -> Client:
    """The app with Docker: every test of this folder that uses `client` deploys."""
    client: Client = await make_client(docker_host=runtime_images, deploy_start_timeout_seconds=15)
    return client
