"""`python -m tasklane_autoscaler`, the image's entrypoint, as a process: it logs in from
KUBECONFIG, serves /healthz and /metrics, scales a Deployment, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import httpx
import kmock
import pytest
import redis

from tests.autoscaler.conftest import free_port
from tests.autoscaler.emulated import (
    AUTOSCALERS,
    DEPLOYMENTS,
    NAMESPACE,
    autoscaler,
    deployment,
    eventually,
    replicas,
    write_kubeconfig,
)


@pytest.mark.asyncio
async def test_module_runs_the_operator(
    cluster: kmock.KubernetesEmulator,
    own_redis_url: str,
    own_redis: redis.Redis,
    tmp_path: Path,
) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", str(cluster.url))
    metrics_port, liveness_port = free_port(), free_port()
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "TASKLANE_REDIS_URL": own_redis_url,
        "TASKLANE_AUTOSCALER_NAMESPACES": NAMESPACE,
        "TASKLANE_AUTOSCALER_METRICS_PORT": str(metrics_port),
        "TASKLANE_AUTOSCALER_LIVENESS_PORT": str(liveness_port),
    }
    cluster.objects[DEPLOYMENTS, NAMESPACE, "workers"] = deployment(replicas=1)
    cluster.objects[AUTOSCALERS, NAMESPACE, "workers"] = autoscaler()
    own_redis.rpush("default", *[b"task"] * 12)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tasklane_autoscaler",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await eventually(lambda: replicas(cluster) == 3, within_s=30)
        async with httpx.AsyncClient() as client:
            deadline = time.monotonic() + 10
            while True:
                try:
                    health = await client.get(f"http://127.0.0.1:{liveness_port}/healthz")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.2)
            assert health.status_code == 200
            metrics = await client.get(f"http://127.0.0.1:{metrics_port}/metrics")
            assert "tasklane_autoscaler_backlog" in metrics.text
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, errors = await asyncio.wait_for(process.communicate(), timeout=30)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
    assert process.returncode == 0, errors.decode()[-2000:]
