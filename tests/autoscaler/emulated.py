"""The emulated cluster the operator tests share: objects as the API server would hold them,
and small readers for assertions."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kmock
import redis

NAMESPACE = "tasklane"
DEPLOYMENTS = "apps/v1/deployments"
AUTOSCALERS = "tasklane.io/v1/workerautoscalers"
PODS = "v1/pods"
EVENTS = "v1/events"
PRIORITY_3 = "default\x06\x163"


def autoscaler(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "tasklane.io/v1",
        "kind": "WorkerAutoscaler",
        "metadata": {
            "name": "workers",
            "namespace": NAMESPACE,
            "uid": "uid-workers",
            "resourceVersion": "1",
        },
        "spec": {
            "targetDeployment": "workers",
            "queues": ["default"],
            "concurrency": 4,
            "minReplicas": 0,
            "maxReplicas": 10,
            "pollIntervalSeconds": 1,
            "scaleDownStabilizationSeconds": 3,
            "maxScaleDownStabilizationSeconds": 3,
            "workerStartupSeconds": 1,
            **spec,
        },
    }


def deployment(replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "workers", "namespace": NAMESPACE},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "worker"}}},
        "status": {"replicas": replicas, "readyReplicas": replicas},
    }


def pod(name: str, app: str = "worker") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": app}},
    }


def reserve(client: redis.Redis, tag: str, queue: str, started: float) -> None:
    """What kombu writes when a worker takes a message (acks_late keeps it until done)."""
    client.hset("unacked", tag, json.dumps([{"body": "", "headers": {}}, queue, queue]))
    client.zadd("unacked_index", {tag: started})


async def eventually(check: Callable[[], bool], within_s: float = 20.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {within_s} s: {check}")
        await asyncio.sleep(0.2)


def declare_resources(kmock: kmock.KubernetesEmulator) -> kmock.KubernetesEmulator:
    kmock.resources[AUTOSCALERS] = kmock.ResourceInfo(
        kind="WorkerAutoscaler",
        namespaced=True,
        subresources={"status"},
        verbs={"get", "list", "watch", "patch"},
    )
    kmock.resources[DEPLOYMENTS] = kmock.ResourceInfo(
        kind="Deployment", namespaced=True, subresources={"scale", "status"}
    )
    kmock.resources[PODS] = kmock.ResourceInfo(kind="Pod", namespaced=True)
    kmock.resources[EVENTS] = kmock.ResourceInfo(kind="Event", namespaced=True)
    # Discovered by kopf on any real cluster; it waits for both before watching anything.
    kmock.resources["v1/namespaces"] = kmock.ResourceInfo(kind="Namespace", namespaced=False)
    kmock.resources["apiextensions.k8s.io/v1/customresourcedefinitions"] = kmock.ResourceInfo(
        kind="CustomResourceDefinition", namespaced=False
    )
    return kmock


def replicas(cluster: kmock.KubernetesEmulator) -> int:
    value: int = cluster.objects[DEPLOYMENTS, NAMESPACE, "workers"]["spec"]["replicas"]
    return value


def status(cluster: kmock.KubernetesEmulator) -> dict[str, Any]:
    result: dict[str, Any] = cluster.objects[AUTOSCALERS, NAMESPACE, "workers"].get("status", {})
    return result


def event_reasons(cluster: kmock.KubernetesEmulator) -> list[str]:
    # From the requests: kopf names Events with generateName, which the emulator leaves unset,
    # so it keeps only the first Event as an object.
    posted = cluster[kmock.method.POST, kmock.resource("v1/events")]
    return [request.data.get("reason", "") for request in posted]


def write_kubeconfig(path: Path, server: str) -> Path:
    """A kubeconfig for the emulator (JSON is YAML): what kopf and the operator log in with."""
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "kmock", "cluster": {"server": server.rstrip("/")}}],
                "users": [{"name": "kmock", "user": {"token": "test"}}],
                "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "kmock"}}],
                "current-context": "kmock",
            }
        )
    )
    return path


def event_types(cluster: kmock.KubernetesEmulator) -> list[str]:
    posted = cluster[kmock.method.POST, kmock.resource("v1/events")]
    return [request.data.get("type", "") for request in posted]


def first_patch_id(cluster: kmock.KubernetesEmulator, path_end: str) -> int:
    """Order number of the first PATCH request to a URL ending with `path_end`."""
    return min(r.id for r in cluster[kmock.method.PATCH] if str(r.url).endswith(path_end))


def first_scale_down_id(cluster: kmock.KubernetesEmulator) -> int:
    """Order number of the first patch of the Deployment's scale that lowered its replicas."""
    previous = None
    for request in cluster[kmock.method.PATCH]:
        if str(request.url).endswith("/deployments/workers/scale"):
            asked = request.data["spec"]["replicas"]
            if previous is not None and asked < previous:
                return int(request.id)
            previous = asked
    raise AssertionError("no scale-down was patched")
