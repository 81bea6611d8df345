"""LocalScaler driving real `python -m tasklane_worker` processes on a real Redis: a backlog
grows the workers, the drained queue shrinks them back to zero, and every task ran."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from tasklane_autoscaler.local import LocalScaler
from tasklane_autoscaler.observe import read_queues
from tasklane_autoscaler.policy import ScalingSpec
from tasklane_contract.celery_config import create_celery_app
from tasklane_contract.settings import Settings
from tests.support.processes import ServiceProcess


@pytest.mark.slow
def test_real_workers_grow_and_shrink_with_the_backlog(
    own_redis_url: str, own_redis: redis.Redis, tmp_path: Path
) -> None:
    env = {
        "TASKLANE_REDIS_URL": own_redis_url,
        "TASKLANE_WORKER_QUEUES": "default",
        "TASKLANE_WORKER_CONCURRENCY": "2",
    }
    workers: list[ServiceProcess] = []
    started = 0

    def start_worker() -> None:
        nonlocal started
        started += 1
        name = f"worker{started}"
        workers.append(
            ServiceProcess(name, "tasklane_worker", env, tmp_path, f"--hostname={name}@%h")
        )

    def stop_worker() -> None:
        workers.pop().stop()  # SIGTERM: a warm shutdown

    spec = ScalingSpec(
        concurrency=2, min_replicas=0, max_replicas=4, scale_down_stabilization_s=3, startup_s=3
    )
    scaler = LocalScaler(
        own_redis, ["default"], spec, lambda: len(workers), start_worker, stop_worker
    )
    producer = create_celery_app(Settings(redis_url=own_redis_url), main="producer")
    try:
        results = [producer.send_task("demo.sleep", kwargs={"seconds": 2.0}) for _ in range(8)]
        scaler.step()
        assert len(workers) == 4  # 8 waiting tasks at 2 per worker, at once

        saw_ages = False
        deadline = time.monotonic() + 90
        while workers:
            assert time.monotonic() < deadline, [w.log()[-800:] for w in workers]
            reading = read_queues(own_redis, ["default"])
            saw_ages = saw_ages or reading.running_mean_age_s is not None
            scaler.step()
            time.sleep(0.5)
        assert saw_ages  # kombu's unacked_index gave the running tasks' ages
        outcomes = [r.get(timeout=5) for r in results]
        assert len(outcomes) == 8
        assert all(o["slept_s"] >= 2.0 for o in outcomes), outcomes
        assert read_queues(own_redis, ["default"]).backlogs["default"].total == 0
        assert started == 4  # no churn: grown once, shrunk once
    finally:
        for worker in workers:
            worker.stop()
        producer.close()
