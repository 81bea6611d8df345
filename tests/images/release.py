"""The release the image tests run: the chart rendered with the README's release name, and
what starts its pods and talks to its API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.chart.render import render
from tests.images.build import IMAGE_TAG
from tests.images.chart_pods import Rendered
from tests.images.cluster import PodmanCluster
from tests.images.podman import Podman

RELEASE = NAMESPACE = "tasklane"
# What the container tests render: the README's release name, our images, beat firing its entry
# every 2 s, the general pool with a short grace period (so stopping a worker is quick to
# watch), the reports pool scaled by the operator, whose image is run then, and Flower.
VALUES: dict[str, Any] = {
    "image": {"tag": IMAGE_TAG},
    "config": {"beatSchedule": {"cleanup-submitted-index": 2}},
    "workers": [
        {
            "name": "general",
            "queues": ["default", "email", "maintenance"],
            "terminationGracePeriodSeconds": 15,
        },
        {
            "name": "reports",
            "queues": ["reports"],
            "concurrency": 2,
            "autoscaling": {"mode": "operator", "minReplicas": 0, "maxReplicas": 4},
        },
    ],
    "flower": {"enabled": True},
}

API, WORKER, BEAT, FLOWER, REDIS = (
    f"{RELEASE}-api",
    f"{RELEASE}-worker-general",
    f"{RELEASE}-beat",
    f"{RELEASE}-flower",
    f"{RELEASE}-redis",
)


def start_release(
    podman: Podman, scratch: Path, workloads: list[str], network: str
) -> PodmanCluster:
    """The workloads started in order, each waited on until its readiness probe (if any)
    passes, as a Deployment's rollout would."""
    cluster = PodmanCluster(podman, rendered_release(), scratch, network)
    for workload in workloads:
        name = cluster.start(workload)
        for probe in cluster.probes(name):
            if probe.kind in ("startupProbe", "readinessProbe"):
                cluster.wait_until_passing(name, probe)
    return cluster


def rendered_release() -> Rendered:
    return Rendered(render(VALUES, name=RELEASE, namespace=NAMESPACE))


def api_client(release: PodmanCluster, key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    base_url = release.url(release.container(API), "http")
    return httpx.Client(base_url=base_url, headers=headers, timeout=10)


def api_key(release: PodmanCluster) -> str:
    return release.env(API)["TASKLANE_API_KEYS"].split(",")[0]
