"""`controller.kubernetes.io/pod-deletion-cost` for worker pods: the ReplicaSet removes the
lowest cost first, so a pod's cost is the number of tasks it runs; idle pods go first and a busy
one is the last to be asked for a warm shutdown."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"


def worker_host(worker_name: str) -> str:
    """`celery@<host>` -> `<host>`; a pod's hostname is its name unless the spec sets one."""
    return worker_name.split("@", 1)[1] if "@" in worker_name else worker_name


def deletion_costs(pods: Iterable[str], running_by_worker: Mapping[str, int]) -> dict[str, int]:
    """Cost per pod name. A pod no worker answered for counts as running nothing: it is not up
    yet or is stuck, and either way is the cheapest to lose."""
    running_by_host: dict[str, int] = {}
    for worker, running in running_by_worker.items():
        host = worker_host(worker)
        running_by_host[host] = running_by_host.get(host, 0) + running
    return {pod: running_by_host.get(pod, 0) for pod in pods}


def changed_costs(wanted: Mapping[str, int], current: Mapping[str, str | None]) -> dict[str, int]:
    """Only the pods whose annotation differs, to keep the number of patches down."""
    return {pod: cost for pod, cost in wanted.items() if current.get(pod) != str(cost)}


def current_pods(pods: Iterable[Mapping[str, Any]]) -> dict[str, str | None]:
    """The pods not being terminated, with the deletion cost each carries now (None: none)."""
    return {
        pod["metadata"]["name"]: pod["metadata"]
        .get("annotations", {})
        .get(DELETION_COST_ANNOTATION)
        for pod in pods
        if not pod["metadata"].get("deletionTimestamp")
    }


def idle_replicas(pods: Iterable[str], running_by_worker: Mapping[str, int]) -> int:
    """Pods that run no task: the ones a scale-down removes first, at no task's expense."""
    return sum(1 for cost in deletion_costs(pods, running_by_worker).values() if cost == 0)
