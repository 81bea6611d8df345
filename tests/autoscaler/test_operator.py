"""The operator run by kopf against KMock (the Kubernetes API emulator) with a real Redis:
backlog pushed into Redis -> the Deployment's scale patched, status and Events written,
pod-deletion-cost set before a scale-down, scale to zero held while tasks are reserved."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import kmock
import kopf
import pytest
import pytest_asyncio
import redis

from tasklane_autoscaler import handlers
from tasklane_autoscaler.observe import read_queues
from tasklane_contract.celery_config import create_celery_app
from tasklane_contract.settings import Settings
from tests.autoscaler.conftest import free_port
from tests.autoscaler.emulated import (
    AUTOSCALERS,
    DEPLOYMENTS,
    NAMESPACE,
    PODS,
    PRIORITY_3,
    autoscaler,
    deployment,
    event_reasons,
    event_types,
    eventually,
    first_patch_id,
    first_scale_down_id,
    pod,
    replicas,
    reserve,
    status,
    write_kubeconfig,
)
from tests.support.processes import ServiceProcess


@pytest_asyncio.fixture
async def operator(
    cluster: kmock.KubernetesEmulator,
    own_redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[int]:
    """kopf running the tasklane handlers against the emulator; yields the metrics port."""
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", str(cluster.url))
    metrics_port = free_port()
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("TASKLANE_REDIS_URL", own_redis_url)
    monkeypatch.setenv("TASKLANE_AUTOSCALER_METRICS_PORT", str(metrics_port))
    monkeypatch.setenv("TASKLANE_AUTOSCALER_INSPECT_TIMEOUT_SECONDS", "1")
    assert handlers.autoscale is not None  # imported: the handlers are registered
    stop = asyncio.Event()
    ready = asyncio.Event()
    task = asyncio.create_task(
        kopf.operator(
            standalone=True,
            clusterwide=False,
            namespaces=[NAMESPACE],
            stop_flag=stop,
            ready_flag=ready,
        )
    )
    await asyncio.wait_for(ready.wait(), timeout=20)
    try:
        yield metrics_port
    finally:
        stop.set()
        # kopf ends its own task by cancellation once the stop flag is seen.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=20)


@pytest.mark.asyncio
async def test_backlog_scales_the_deployment_up_then_down_safely(
    cluster: kmock.KubernetesEmulator, own_redis: redis.Redis, operator: int
) -> None:
    cluster.objects[DEPLOYMENTS, NAMESPACE, "workers"] = deployment(replicas=1)
    for name in ("workers-a", "workers-b", "workers-c"):
        cluster.objects[PODS, NAMESPACE, name] = pod(name)
    cluster.objects[PODS, NAMESPACE, "api-a"] = pod("api-a", app="api")
    leaving = pod("workers-old")
    leaving["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    cluster.objects[PODS, NAMESPACE, "workers-old"] = leaving
    own_redis.rpush("default", *[b"task"] * 10)
    own_redis.rpush(PRIORITY_3, *[b"task"] * 3)  # a priority list LLEN default does not see
    reserve(own_redis, "tag-1", "default", time.time() - 10)
    reserve(own_redis, "tag-2", "default", time.time() - 10)
    reserve(own_redis, "tag-other", "email", time.time())  # another queue's: not counted

    cluster.objects[AUTOSCALERS, NAMESPACE, "workers"] = autoscaler()

    # 13 waiting (both lists) + 2 reserved at 4 per replica: at least 4 replicas, at once.
    await eventually(lambda: replicas(cluster) >= 4)
    await eventually(lambda: status(cluster).get("desiredReplicas") == replicas(cluster))
    seen = status(cluster)
    assert seen["backlog"] == 13
    assert seen["reserved"] == 2
    assert seen["reason"] in ("backlog", "steady", "stabilizing")
    assert "lastScaleTime" in seen
    await eventually(lambda: "ScaledUp" in event_reasons(cluster))
    scaled_up_to = replicas(cluster)

    # The queue drains; two tasks still run: down, but never below the replica they need.
    own_redis.delete("default", PRIORITY_3)
    await eventually(lambda: replicas(cluster) == 1)
    assert status(cluster)["reserved"] == 2
    await eventually(lambda: "ScaledDown" in event_reasons(cluster))
    assert first_patch_id(cluster, "/pods/workers-a") < first_scale_down_id(cluster)
    costs = {
        name: cluster.objects[PODS, NAMESPACE, name]["metadata"].get("annotations", {})
        for name in ("workers-a", "workers-b", "workers-c", "api-a")
    }
    # No worker answered Celery's inspect: each pod runs nothing as far as the operator knows.
    for name in ("workers-a", "workers-b", "workers-c"):
        assert costs[name] == {"controller.kubernetes.io/pod-deletion-cost": "0"}
    assert costs["api-a"] == {}  # not the Deployment's pod: left alone
    assert "annotations" not in cluster.objects[PODS, NAMESPACE, "workers-old"]["metadata"]
    pod_lists = [r for r in cluster[kmock.method.GET] if str(r.url.path).endswith("/pods")]
    assert pod_lists
    # Every poll lists the pods: from the API server's cache, not a quorum read of etcd.
    assert all(r.url.query.get("resourceVersion") == "0" for r in pod_lists)

    # Held at one replica while anything is reserved, however long the window has passed.
    await asyncio.sleep(4)
    assert replicas(cluster) == 1
    assert status(cluster)["desiredReplicas"] == 1

    # The tasks finish: now it may go to zero.
    own_redis.delete("unacked", "unacked_index")
    await eventually(lambda: replicas(cluster) == 0)
    assert scaled_up_to >= 4

    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"http://127.0.0.1:{operator}/metrics")).text
    assert 'tasklane_autoscaler_reserved{autoscaler="tasklane/workers",queue="default"}' in metrics
    assert 'tasklane_autoscaler_desired_replicas{autoscaler="tasklane/workers"} 0.0' in metrics
    assert 'tasklane_autoscaler_min_replicas{autoscaler="tasklane/workers"} 0.0' in metrics
    assert 'tasklane_autoscaler_max_replicas{autoscaler="tasklane/workers"} 10.0' in metrics
    assert (
        'tasklane_autoscaler_decisions_total{autoscaler="tasklane/workers",reason="backlog"}'
        in (metrics)
    )

    # Deleted: its series are no longer exported (nor alerted on).
    async with httpx.AsyncClient() as client:
        path = f"/apis/tasklane.io/v1/namespaces/{NAMESPACE}/workerautoscalers/workers"
        assert (await client.delete(f"{cluster.url}{path}")).status_code == 200

    async def exported() -> str:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"http://127.0.0.1:{operator}/metrics")).text

    deadline = time.monotonic() + 20
    while 'autoscaler="tasklane/workers"' in await exported():
        assert time.monotonic() < deadline, "series of the deleted autoscaler still exported"
        await asyncio.sleep(0.2)


@pytest.mark.asyncio
async def test_invalid_spec_is_reported_not_acted_on(
    cluster: kmock.KubernetesEmulator, own_redis: redis.Redis, operator: int
) -> None:
    cluster.objects[DEPLOYMENTS, NAMESPACE, "workers"] = deployment(replicas=2)
    own_redis.rpush("default", *[b"task"] * 50)
    cluster.objects[AUTOSCALERS, NAMESPACE, "workers"] = autoscaler(minReplicas=5, maxReplicas=3)
    await eventually(lambda: "InvalidSpec" in event_reasons(cluster))
    await asyncio.sleep(2)
    assert replicas(cluster) == 2
    assert "desiredReplicas" not in status(cluster)


@pytest.mark.slow
@pytest.mark.asyncio
async def test_the_busy_worker_pod_costs_most_to_delete(
    cluster: kmock.KubernetesEmulator,
    own_redis_url: str,
    own_redis: redis.Redis,
    operator: int,
    tmp_path: Path,
) -> None:
    # A real Celery worker whose name says it runs in pod workers-a, running one long task.
    worker = ServiceProcess(
        "worker",
        "tasklane_worker",
        {
            "TASKLANE_REDIS_URL": own_redis_url,
            "TASKLANE_WORKER_QUEUES": "default",
            "TASKLANE_WORKER_CONCURRENCY": "2",
        },
        tmp_path,
        "--hostname=celery@workers-a",
    )
    producer = create_celery_app(Settings(redis_url=own_redis_url), main="producer")
    try:
        worker.wait_for_log(" ready.")
        # Longer than the test can take on a loaded machine, so it runs throughout.
        producer.send_task("demo.sleep", kwargs={"seconds": 300})
        await eventually(lambda: read_queues(own_redis, ["default"]).reserved == 1)
        cluster.objects[DEPLOYMENTS, NAMESPACE, "workers"] = deployment(replicas=3)
        for name in ("workers-a", "workers-b", "workers-c"):
            cluster.objects[PODS, NAMESPACE, name] = pod(name)
        cluster.objects[AUTOSCALERS, NAMESPACE, "workers"] = autoscaler()

        # One task runs: one replica is enough, and the ReplicaSet is told which one to keep.
        # Generous: on a loaded machine the worker may miss a few 1 s inspect calls first.
        await eventually(lambda: replicas(cluster) == 1, within_s=120)
        costs = {
            name: cluster.objects[PODS, NAMESPACE, name]["metadata"]["annotations"][
                "controller.kubernetes.io/pod-deletion-cost"
            ]
            for name in ("workers-a", "workers-b", "workers-c")
        }
        assert costs == {"workers-a": "1", "workers-b": "0", "workers-c": "0"}
    finally:
        worker.kill()
        producer.close()


@pytest.mark.asyncio
async def test_a_missing_deployment_is_reported_and_retried(
    cluster: kmock.KubernetesEmulator, own_redis: redis.Redis, operator: int
) -> None:
    own_redis.rpush("default", *[b"task"] * 5)
    cluster.objects[AUTOSCALERS, NAMESPACE, "workers"] = autoscaler()
    # A Warning Event says why nothing happens; the timer retries.
    await eventually(lambda: "Warning" in event_types(cluster))
    assert "desiredReplicas" not in status(cluster)

    cluster.objects[DEPLOYMENTS, NAMESPACE, "workers"] = deployment(replicas=1)
    await eventually(lambda: replicas(cluster) == 2, within_s=45)  # retried, then acted on


@pytest.mark.asyncio
async def test_a_broken_broker_connection_leaves_the_operator_polling(
    cluster: kmock.KubernetesEmulator, own_redis: redis.Redis, operator: int
) -> None:
    # A task reserved: scaling 3 -> 1 asks Celery (inspect, over a pooled broker connection)
    # which pods run nothing before it goes ahead.
    reserve(own_redis, "tag-1", "default", time.time())
    cluster.objects[DEPLOYMENTS, NAMESPACE, "workers"] = deployment(replicas=3)
    for name in ("workers-a", "workers-b", "workers-c"):
        cluster.objects[PODS, NAMESPACE, name] = pod(name)
    cluster.objects[AUTOSCALERS, NAMESPACE, "workers"] = autoscaler()
    await eventually(lambda: replicas(cluster) == 1)

    # Every client connection of the operator is closed under it, as a Redis restart does: the
    # next inspect meets a stale pooled connection ("Connection closed by server").
    own_redis.client_kill_filter(_type="normal", skipme=True)
    cluster.objects[DEPLOYMENTS, NAMESPACE, "workers"] = deployment(replicas=3)
    broken_at = time.monotonic()
    # The failed poll is retried at the poll interval (1 s), not after kopf's 60 s backoff.
    await eventually(lambda: replicas(cluster) == 1, within_s=20)
    print(f"scaled down again {time.monotonic() - broken_at:.1f} s after the connections broke")


@pytest.mark.asyncio
async def test_routine_polls_log_nothing_at_info_and_a_scaling_one_line(
    cluster: kmock.KubernetesEmulator,
    own_redis: redis.Redis,
    operator: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cluster.objects[DEPLOYMENTS, NAMESPACE, "workers"] = deployment(replicas=1)
    cluster.objects[AUTOSCALERS, NAMESPACE, "workers"] = autoscaler(minReplicas=1)
    await eventually(lambda: status(cluster).get("lastDecision") == "hold")
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    polls_before = len(cluster[kmock.method.PATCH, kmock.resource(AUTOSCALERS)])
    await asyncio.sleep(5)  # five polls, nothing to change
    polls = len(cluster[kmock.method.PATCH, kmock.resource(AUTOSCALERS)]) - polls_before
    assert polls >= 3  # it did poll, and patched its status each time
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO] == []

    own_redis.rpush("default", *[b"task"] * 10)
    await eventually(lambda: replicas(cluster) > 1)
    await asyncio.sleep(2)  # polls after the change: still quiet
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{NAMESPACE}/workers: workers: 1 -> ")
    assert "10 waiting" in lines[0]
