"""Which deployment engine a server runs: `COLLAB_DEPLOY_ENGINE=docker|swarm`."""

from __future__ import annotations

from config import Settings
from containers.engine import Containers, DockerEngine, Isolation
from containers.engine_seam import DeploymentEngine


def deployment_engine(settings: Settings, docker: DockerEngine, scope: str) -> DeploymentEngine:
    """The engine of these settings on `docker`; `scope` (the database's identity) is half
    of the default cluster id."""
    isolation = Isolation.from_settings(settings)
    if settings.deploy_engine == "swarm":
        from containers.swarm import SwarmDeployments

        return SwarmDeployments(docker, isolation, settings.deploy_cluster, scope)
    return Containers(docker, isolation, settings.deploy_cluster, scope)
