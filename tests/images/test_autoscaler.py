"""The autoscaler image, run as the chart runs it, scaling a worker Deployment of the Kubernetes
API emulator KMock on the backlog of tasks submitted through the API image.

One thing differs from the chart: the operator logs in with a mounted kubeconfig instead of a
service account token, because KMock speaks plain HTTP, which in-cluster login never uses."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import kmock
import pytest

from tests.autoscaler.emulated import (
    AUTOSCALERS,
    DEPLOYMENTS,
    declare_resources,
    eventually,
    write_kubeconfig,
)
from tests.chart.render import pod_spec
from tests.images.build import IMAGE_TEST
from tests.images.cluster import PodmanCluster
from tests.images.podman import Podman
from tests.images.release import API, NAMESPACE, REDIS, RELEASE, api_client, api_key, start_release

pytestmark = IMAGE_TEST

AUTOSCALER = f"{RELEASE}-autoscaler"
POOL = f"{RELEASE}-worker-reports"
KUBECONFIG_DIR = "/var/run/kubeconfig"


def _into_the_emulator(cluster: kmock.KubernetesEmulator, release: PodmanCluster) -> None:
    """The pool's rendered Deployment and WorkerAutoscaler, as the API server would hold them
    (the Deployment's replicas defaulted to 1, an object uid and version)."""
    deployment = release.rendered.get("Deployment", POOL)
    deployment["spec"]["replicas"] = 1
    deployment["status"] = {"replicas": 1, "readyReplicas": 1}
    cluster.objects[DEPLOYMENTS, NAMESPACE, POOL] = deployment
    autoscaler = release.rendered.get("WorkerAutoscaler", POOL)
    autoscaler["metadata"].update(uid="uid-reports", resourceVersion="1")
    cluster.objects[AUTOSCALERS, NAMESPACE, POOL] = autoscaler


def _replicas(cluster: kmock.KubernetesEmulator) -> int:
    replicas: int = cluster.objects[DEPLOYMENTS, NAMESPACE, POOL]["spec"]["replicas"]
    return replicas


def _gateway(podman: Podman, network: str) -> str:
    """The host's address on the network: where a container reaches a server of the host."""
    inspected = json.loads(podman.run("network", "inspect", network).stdout)
    gateway: str = inspected[0]["subnets"][0]["gateway"]
    return gateway


@pytest.mark.asyncio
async def test_the_autoscaler_image_scales_a_pool_on_its_backlog(
    kmock: kmock.KubernetesEmulator,
    podman: Podman,
    images: dict[str, str],
    redis_image: str,
    tmp_path: Path,
) -> None:
    cluster = declare_resources(kmock)
    with podman.session() as scoped:
        network = f"{NAMESPACE}-autoscaler-{os.getpid()}"
        release = await asyncio.to_thread(
            start_release, scoped, tmp_path / "volumes", [REDIS, API], network
        )
        _into_the_emulator(cluster, release)
        # KMock listens on loopback; a second listener on the network's gateway serves the
        # container.
        async with kmock.Server(cluster, host=_gateway(scoped, network)) as server:
            config_dir = tmp_path / "kubeconfig"
            config_dir.mkdir(mode=0o755)
            write_kubeconfig(config_dir / "config", f"http://{server.host}:{server.port}")
            (config_dir / "config").chmod(0o644)
            name = await asyncio.to_thread(
                release.start,
                AUTOSCALER,
                extra_env={"KUBECONFIG": f"{KUBECONFIG_DIR}/config"},
                extra_args=[f"--volume={config_dir}:{KUBECONFIG_DIR}:ro"],
            )
            try:
                for probe in release.probes(name):
                    await asyncio.to_thread(release.wait_until_passing, name, probe)
                await _submit_and_watch_the_pool_grow(cluster, release)
                # Stopped while KMock still answers, as a pod is: SIGTERM, and it exits 0.
                grace_s = pod_spec(release.rendered.workload(AUTOSCALER))[
                    "terminationGracePeriodSeconds"
                ]
                await asyncio.to_thread(scoped.run, "stop", f"--time={grace_s}", name)
                assert scoped.state(name)["ExitCode"] == 0, scoped.logs(name)[-3000:]
            finally:
                # The operator's watch connections would hold the listener open as it closes.
                await asyncio.to_thread(scoped.run, "rm", "--force", "--time=0", name)


async def _submit_and_watch_the_pool_grow(
    cluster: kmock.KubernetesEmulator, release: PodmanCluster
) -> None:
    spec = release.rendered.get("WorkerAutoscaler", POOL)["spec"]
    tasks = spec["maxReplicas"] * spec["concurrency"] + 4
    with api_client(release, api_key(release)) as client:
        for _ in range(tasks):
            accepted = await asyncio.to_thread(
                client.post, "/v1/tasks/report.generate", json={"rows": 10}
            )
            assert accepted.status_code == 202, accepted.text
    # More tasks wait than the most replicas can take: the pool goes to its maximum.
    try:
        await eventually(lambda: _replicas(cluster) == spec["maxReplicas"], within_s=90)
    except AssertionError:
        logs = await asyncio.to_thread(release.logs)
        raise AssertionError(f"replicas {_replicas(cluster)}\n{logs}") from None
