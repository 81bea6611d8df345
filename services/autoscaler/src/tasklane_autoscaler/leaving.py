"""Tasks still running on worker pods that are being removed. They finish there (warm
shutdown), so they need no slot among the replicas that stay."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tasklane_autoscaler.deletion_cost import worker_host


def leaving_pods(pods: Iterable[Mapping[str, Any]]) -> set[str]:
    """Names of the pods Kubernetes is terminating."""
    return {
        pod["metadata"]["name"] for pod in pods if pod.get("metadata", {}).get("deletionTimestamp")
    }


def tasks_on_leaving(leaving: set[str], running_by_worker: Mapping[str, int]) -> int:
    return sum(
        running for worker, running in running_by_worker.items() if worker_host(worker) in leaving
    )
