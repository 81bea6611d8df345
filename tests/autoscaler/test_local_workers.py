"""LocalScaler driving real `python -m tasklane_worker` processes on a real Redis: a backlog
grows the workers, the drained queue shrinks them back to zero, every task ran, and a
scale-down stops the worker that runs nothing rather than the newest."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from tasklane_autoscaler.local import LocalScaler
from tasklane_autoscaler.observe import read_queues
from tasklane_autoscaler.policy import ScalingSpec
from tasklane_autoscaler.worker_load import running_tasks_by_worker
from tasklane_contract.celery_config import create_celery_app
from tasklane_contract.settings import Settings
from tests.support.processes import ServiceProcess


class RealWorkers:
    """Worker processes named worker1, worker2, ...; a stopped one gets SIGTERM (a warm
    shutdown) and is reaped when the test ends."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir = env, log_dir
        self.active: dict[str, ServiceProcess] = {}
        self.stopped: dict[str, ServiceProcess] = {}
        self.started = 0

    def names(self) -> list[str]:
        return list(self.active)

    def start(self) -> None:
        self.started += 1
        name = f"worker{self.started}"
        self.active[name] = ServiceProcess(
            name, "tasklane_worker", self.env, self.log_dir, f"--hostname={name}@%h"
        )

    def stop(self, name: str) -> None:
        worker = self.active.pop(name)
        worker.signal(signal.SIGTERM)
        self.stopped[name] = worker

    def logs(self) -> list[str]:
        return [w.log()[-800:] for w in [*self.active.values(), *self.stopped.values()]]

    def close(self) -> None:
        for worker in [*self.active.values(), *self.stopped.values()]:
            worker.stop()


def eventually(check: Callable[[], bool], timeout_s: float, what: object) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def env_for(redis_url: str, concurrency: int) -> dict[str, str]:
    return {
        "TASKLANE_REDIS_URL": redis_url,
        "TASKLANE_WORKER_QUEUES": "default",
        "TASKLANE_WORKER_CONCURRENCY": str(concurrency),
    }


@pytest.mark.slow
def test_real_workers_grow_and_shrink_with_the_backlog(
    own_redis_url: str, own_redis: redis.Redis, tmp_path: Path
) -> None:
    workers = RealWorkers(env_for(own_redis_url, 2), tmp_path)
    spec = ScalingSpec(
        concurrency=2, min_replicas=0, max_replicas=4, scale_down_stabilization_s=3, startup_s=3
    )
    scaler = LocalScaler(own_redis, ["default"], spec, workers)
    producer = create_celery_app(Settings(redis_url=own_redis_url), main="producer")
    try:
        results = [producer.send_task("demo.sleep", kwargs={"seconds": 2.0}) for _ in range(8)]
        scaler.step()
        assert len(workers.names()) == 4  # 8 waiting tasks at 2 per worker, at once

        saw_ages = False
        deadline = time.monotonic() + 90
        while workers.names():
            assert time.monotonic() < deadline, workers.logs()
            reading = read_queues(own_redis, ["default"])
            saw_ages = saw_ages or reading.running_mean_age_s is not None
            scaler.step()
            time.sleep(0.5)
        assert saw_ages  # kombu's unacked_index gave the running tasks' ages
        outcomes = [r.get(timeout=30) for r in results]
        assert len(outcomes) == 8
        assert all(o["slept_s"] >= 2.0 for o in outcomes), outcomes
        # Each stopped worker finished what it ran, acknowledged it and exited cleanly.
        assert [w.process.wait(30) for w in workers.stopped.values()] == [0, 0, 0, 0]
        assert read_queues(own_redis, ["default"]).backlogs["default"].total == 0
        assert workers.started == 4  # no churn: grown once, shrunk once
    finally:
        workers.close()
        producer.close()


@pytest.mark.slow
def test_a_scale_down_stops_the_idle_worker_and_not_the_newest(
    own_redis_url: str, own_redis: redis.Redis, tmp_path: Path
) -> None:
    """worker1 ran a short task and is idle; worker2, the newest, runs a long one. Stopping
    the newest, as the scaler did before it asked Celery, would stop the busy one."""
    workers = RealWorkers(env_for(own_redis_url, 1), tmp_path)
    spec = ScalingSpec(
        concurrency=1, min_replicas=0, max_replicas=2, scale_down_stabilization_s=2, startup_s=2
    )
    app = create_celery_app(Settings(redis_url=own_redis_url), main="producer")
    scaler = LocalScaler(
        own_redis, ["default"], spec, workers, lambda: running_tasks_by_worker(app, 1.0)
    )

    def answering() -> set[str]:
        return {node.split("@")[0] for node in running_tasks_by_worker(app, 0.5)}

    try:
        workers.start()
        eventually(lambda: "worker1" in answering(), 60, workers.logs())
        # worker1 is kept busy while worker2 starts, so the long task can only go to worker2.
        short = app.send_task("demo.sleep", kwargs={"seconds": 15.0})
        eventually(lambda: own_redis.llen("default") == 0, 30, workers.logs())
        workers.start()
        eventually(lambda: "worker2" in answering(), 60, workers.logs())
        long = app.send_task("demo.sleep", kwargs={"seconds": 25.0})
        eventually(lambda: own_redis.llen("default") == 0, 30, workers.logs())
        assert not short.ready(), "worker2 took longer to start than the short task ran"

        deadline = time.monotonic() + 60
        while not workers.stopped:  # two reserved tasks hold both workers until one ends
            assert time.monotonic() < deadline, workers.logs()
            scaler.step()
            time.sleep(0.5)
        assert short.ready() and not long.ready()
        assert list(workers.stopped) == ["worker1"]
        assert workers.names() == ["worker2"]
        assert workers.stopped["worker1"].process.wait(30) == 0
        assert workers.active["worker2"].process.poll() is None  # still running the long task
        assert long.get(timeout=30)["slept_s"] >= 25.0
    finally:
        workers.close()
        app.close()
