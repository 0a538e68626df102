"""The Docker Swarm deployment engine (`COLLAB_DEPLOY_ENGINE=swarm`): a service per deployment.

Each deployment is a Swarm service `collab-{id}` (one replica, restart condition `none`) on a
network of its own: a *swarm-scoped bridge* made from a config-only network (the only way
Swarm takes a bridge's subnet and options), so on the node that runs the task it is exactly
the plain engine's bridge: same `cb-…` name, /28 of the pool, internal for egress `none`,
no inter-container traffic, and the same host firewall rules (`host_firewall`). The server
dials the task's address on that bridge, as it dials a container's. An overlay would not be
reachable from a server that is a host process (the overlay lives in a namespace of its own
with no route from the host): docs/deployments-swarm.md says what a multi-node swarm needs.

Hardening carried by the service: read-only root, every capability dropped, the runtime's
user, memory, CPU and pids limits (pids: API 1.41, set in the raw resources, the SDK has no
argument), tmpfs /tmp, the json-file log limits. Done on the task's container after it
starts, as on the plain engine: the default route dropped (egress `none`).
Not available on services: `no-new-privileges` (no field before API 1.44).

A deployment's handle is its task's container id, so reading it (state, logs, stats, files,
shell) is the plain engine's; starting and removing go through the service.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from typing import Any

import docker
from docker.errors import APIError, NotFound
from docker.types import (
    ContainerSpec as SwarmContainerSpec,
)
from docker.types import (
    DriverConfig,
    EndpointSpec,
    Mount,
    Resources,
    RestartPolicy,
    TaskTemplate,
)

from containers import host_firewall
from containers.engine import (
    LABEL_CLUSTER,
    LABEL_DEPLOYMENT,
    LABEL_MANAGED,
    LABEL_SECRETS,
    NETWORK_PREFIX,
    Containers,
    Egress,
    Isolation,
    _remove_deployment,
    _used_subnets,
    bridge_name,
    cluster_id,
    files_archive,
)
from containers.engine_seam import ContainerSpec, DockerUnavailable, Started

CONFIG_PREFIX = "collab-cfg-"
SERVICE_PREFIX = "collab-"
# How long a service may take to have a running task.
TASK_TIMEOUT = 30.0


def swarm_id(client: docker.DockerClient) -> str:
    info: dict[str, Any] = client.info()
    swarm = info.get("Swarm") or {}
    if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
        raise DockerUnavailable("COLLAB_DEPLOY_ENGINE=swarm needs a swarm manager")
    return str(swarm["Cluster"]["ID"])


def _create_network(
    client: docker.DockerClient, spec: ContainerSpec, isolation: Isolation, cluster: str
) -> str:
    """A swarm-scoped bridge of its own, on a free /28 of the pool; its name."""
    name = NETWORK_PREFIX + spec.deployment_id
    internet = isolation.egress is Egress.INTERNET
    labels = {LABEL_MANAGED: "true", LABEL_DEPLOYMENT: spec.deployment_id, LABEL_CLUSTER: cluster}
    subnets = list(isolation.pool.subnets(new_prefix=isolation.prefix))
    start = random.randrange(len(subnets))  # noqa: S311 - spreading, not secrecy
    used = _used_subnets(client)
    for subnet in subnets[start:] + subnets[:start]:
        if any(subnet.overlaps(other) for other in used):
            continue
        # Docker's SDK has no `config_only`/`config_from`: the API takes them as they are.
        body = {
            "Name": CONFIG_PREFIX + spec.deployment_id,
            "ConfigOnly": True,
            "Labels": labels,
            "IPAM": {"Config": [{"Subnet": str(subnet), "Gateway": str(subnet[1])}]},
            "Options": {
                "com.docker.network.bridge.name": bridge_name(spec.deployment_id),
                "com.docker.network.bridge.enable_icc": "false",
                "com.docker.network.bridge.enable_ip_masquerade": str(internet).lower(),
            },
        }
        api = client.api
        try:
            api._result(api._post_json(api._url("/networks/create"), data=body), True)
        except APIError as exc:
            if "overlap" in str(exc).lower():
                used.add(subnet)
                continue
            raise
        try:
            network = {
                "Name": name,
                "Driver": "bridge",
                "Scope": "swarm",
                "Internal": not internet,
                "Attachable": False,
                # Its labels are its configuration network's (Docker refuses its own).
                "ConfigFrom": {"Network": CONFIG_PREFIX + spec.deployment_id},
            }
            api._result(api._post_json(api._url("/networks/create"), data=network), True)
        except APIError:
            with contextlib.suppress(NotFound):
                client.networks.get(CONFIG_PREFIX + spec.deployment_id).remove()
            raise
        return name
    raise DockerUnavailable(f"no free /{isolation.prefix} left in {isolation.pool}")


def _task_container(client: docker.DockerClient, deployment_id: str) -> Any:
    """The service's task container once it runs (or has exited).

    Swarm creates the container before it starts it: until then it has no address and no
    process, so a container still `created` is waited for (taking it then left the
    deployment with no address to probe, and with its default route, now and then)."""
    deadline = time.monotonic() + TASK_TIMEOUT
    while time.monotonic() < deadline:
        found = client.containers.list(
            all=True,
            filters={"label": f"com.docker.swarm.service.name={SERVICE_PREFIX}{deployment_id}"},
        )
        if found and found[0].status not in ("created", "restarting"):
            return found[0]
        service = client.services.get(SERVICE_PREFIX + deployment_id)
        for task in service.tasks():
            if task["Status"]["State"] in ("rejected", "failed"):
                raise DockerUnavailable(f"the service's task failed: {task['Status'].get('Err')}")
        time.sleep(0.05)
    raise DockerUnavailable(f"the service had no task within {TASK_TIMEOUT:g}s")


def _create_and_start(
    client: docker.DockerClient, spec: ContainerSpec, isolation: Isolation, cluster: str
) -> Started:
    runtime = spec.runtime
    labels = {
        LABEL_MANAGED: "true",
        LABEL_DEPLOYMENT: spec.deployment_id,
        LABEL_CLUSTER: cluster,
        LABEL_SECRETS: ",".join(sorted(spec.secret_names)),
    }
    network = _create_network(client, spec, isolation, cluster)
    try:
        host_firewall.guard(
            bridge_name(spec.deployment_id), internet=isolation.egress is Egress.INTERNET
        )
        # The files go into a volume before the app starts (a service cannot be written to
        # before its task runs): through a container that is created, never started.
        volume = client.volumes.create(name=f"collab-app-{spec.deployment_id}", labels=labels)
        if spec.files:
            loader = client.containers.create(
                runtime.image,
                command=["true"],
                labels=labels,
                network_disabled=True,
                volumes={volume.name: {"bind": "/app", "mode": "rw"}},
            )
            try:
                loader.put_archive("/app", files_archive(spec.files))
            finally:
                loader.remove(force=True)
        container = SwarmContainerSpec(
            runtime.image,
            command=list(runtime.command),
            env={**spec.environment, **runtime.env, "PORT": str(runtime.port)},
            workdir="/app",
            user=runtime.user or None,
            labels=labels,
            read_only=runtime.read_only,
            cap_drop=["ALL"],
            mounts=[
                Mount("/app", volume.name, type="volume"),
                Mount("/tmp", None, type="tmpfs", tmpfs_size=64 * 1024 * 1024, tmpfs_mode=0o1777),  # noqa: S108
            ],
        )
        resources = Resources(cpu_limit=int(runtime.cpus * 1e9), mem_limit=runtime.memory_bytes)
        # Services take a pids limit since API 1.41 (Docker 20.10); the SDK has no argument.
        resources["Limits"]["Pids"] = runtime.pids
        task = TaskTemplate(
            container,
            resources=resources,
            restart_policy=RestartPolicy(condition="none"),
            log_driver=DriverConfig("json-file", {"max-size": "1m", "max-file": "2"}),
            networks=[network],
        )
        client.api.create_service(
            task,
            name=SERVICE_PREFIX + spec.deployment_id,
            labels=labels,
            endpoint_spec=EndpointSpec(mode="dnsrr"),  # no VIP, no published port
        )
        running = _task_container(client, spec.deployment_id)
        running.reload()
        if isolation.egress is Egress.NONE and running.status == "running":
            try:
                host_firewall.drop_default_route(int(running.attrs["State"]["Pid"]))
            except host_firewall.FirewallError:
                # Its process is gone (Docker may not have noticed yet): it exited.
                if os.path.exists(f"/proc/{running.attrs['State']['Pid']}"):
                    raise
        networks = running.attrs["NetworkSettings"]["Networks"] or {}
        address = (networks.get(network) or {}).get("IPAddress", "")
    except BaseException as exc:
        with contextlib.suppress(Exception):
            _remove_service(client, spec.deployment_id)
        if isinstance(exc, host_firewall.FirewallError):
            raise DockerUnavailable(f"the deployment could not be isolated: {exc}") from exc
        raise
    return Started(running.id, address)


def _remove_service(client: docker.DockerClient, deployment_id: str) -> None:
    """The service, its task containers, then what the plain engine removes, and the
    network's configuration."""
    with contextlib.suppress(NotFound):
        client.services.get(SERVICE_PREFIX + deployment_id).remove()
    # Swarm removes the task's container in its own time; the network cannot go before it.
    for container in client.containers.list(
        all=True, filters={"label": f"{LABEL_DEPLOYMENT}={deployment_id}"}
    ):
        with contextlib.suppress(NotFound):
            container.remove(force=True)
    deadline = time.monotonic() + 10
    while True:
        try:
            _remove_deployment(client, deployment_id)
            break
        except (APIError, DockerUnavailable):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    # The swarm network goes asynchronously: its configuration stays "in use" until then.
    while True:
        try:
            client.networks.get(CONFIG_PREFIX + deployment_id).remove()
            break
        except NotFound:
            break
        except APIError:
            if time.monotonic() > deadline + 10:
                raise
            time.sleep(0.2)


class SwarmDeployments(Containers):
    """Deployments as Swarm services (`DeploymentEngine`); handles are task containers."""

    name = "swarm"

    async def cluster(self) -> str:
        if self._cluster is None:
            engine_id = await self._engine.run(swarm_id)
            self._cluster = cluster_id(self.name, engine_id, self._scope)
        return self._cluster

    async def ping(self) -> None:
        await self._engine.run(swarm_id)

    async def start(self, spec: ContainerSpec) -> Started:
        cluster = await self.cluster()
        return await self._engine.run(
            lambda client: _create_and_start(client, spec, self._isolation, cluster)
        )

    async def remove(self, container_id: str) -> None:
        def remove(client: docker.DockerClient) -> None:
            try:
                label = client.containers.get(container_id).labels.get(LABEL_DEPLOYMENT, "")
            except NotFound:
                return
            if label:
                _remove_service(client, label)

        await self._engine.run(remove)

    async def remove_deployment(self, deployment_id: str) -> None:
        await self._engine.run(lambda client: _remove_service(client, deployment_id))
