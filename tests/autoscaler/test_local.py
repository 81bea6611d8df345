"""LocalScaler: the policy driving local worker processes, with a real Redis and fake
start/stop callbacks standing in for the stack runner."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping

import redis

from tasklane_autoscaler.local import LocalScaler, running_by_name, stopping_order
from tasklane_autoscaler.policy import Reason, ScalingSpec

SPEC = ScalingSpec(
    concurrency=2, min_replicas=0, max_replicas=6, scale_down_stabilization_s=10, startup_s=2
)


class FakeWorkers:
    """Stands in for the stack runner's worker pool: names only, oldest first."""

    def __init__(self) -> None:
        self.active: list[str] = []
        self.started = 0
        self.stopped: list[str] = []

    @property
    def running(self) -> int:
        return len(self.active)

    def names(self) -> list[str]:
        return list(self.active)

    def start(self) -> None:
        self.started += 1
        self.active.append(f"worker{self.started}")

    def stop(self, name: str) -> None:
        self.active.remove(name)
        self.stopped.append(name)


def scaler(
    client: redis.Redis,
    workers: FakeWorkers,
    running_by_node: Callable[[], Mapping[str, int]] | None = None,
) -> LocalScaler:
    return LocalScaler(client, ["default"], SPEC, workers, running_by_node)


def test_step_grows_and_shrinks_workers_on_the_backlog(own_redis: redis.Redis) -> None:
    workers = FakeWorkers()
    autoscaler = scaler(own_redis, workers)
    assert autoscaler.step(now=0).desired == 0
    assert workers.started == 0

    own_redis.rpush("default", *[b"task"] * 7)
    own_redis.rpush("default\x06\x166", b"task")  # priority 6 counts too
    decision = autoscaler.step(now=1)
    assert decision.reason is Reason.SCALE_UP
    assert workers.running == 4  # 8 waiting at 2 per worker

    # Workers took everything; one task is still reserved (running).
    own_redis.delete("default", "default\x06\x166")
    own_redis.hset("unacked", "t1", json.dumps([{}, "default", "default"]))
    own_redis.zadd("unacked_index", {"t1": time.time()})
    assert autoscaler.step(now=5).desired == 4  # inside the window: hold
    assert autoscaler.step(now=20).desired == 1  # the reserved task keeps its worker
    assert workers.running == 1
    assert autoscaler.step(now=60).desired == 1

    own_redis.delete("unacked", "unacked_index")
    autoscaler.step(now=61)
    autoscaler.step(now=90)
    assert workers.running == 0
    assert len(workers.stopped) == 4


def test_run_loop_stops_on_its_event(own_redis: redis.Redis) -> None:
    workers = FakeWorkers()
    autoscaler = scaler(own_redis, workers)
    autoscaler.poll_interval_s = 0.05
    own_redis.rpush("default", b"task")
    thread, stop = autoscaler.start_in_thread()
    deadline = time.monotonic() + 5
    while workers.running == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert workers.running == 1


def test_running_tasks_are_counted_per_local_worker_by_node_name() -> None:
    answer = {"worker1@laptop": 2, "worker3@laptop": 0, "celery@elsewhere": 5}
    assert running_by_name(["worker1", "worker2", "worker3"], answer) == {
        "worker1": 2,
        "worker2": 0,  # no answer yet: still starting
        "worker3": 0,
    }


def test_idle_workers_stop_first_and_the_newest_among_equals() -> None:
    names = ["worker1", "worker2", "worker3", "worker4"]
    running = {"worker1": 0, "worker2": 1, "worker3": 0, "worker4": 2}
    assert stopping_order(names, running) == ["worker3", "worker1", "worker2", "worker4"]
    assert stopping_order(names, {}) == ["worker4", "worker3", "worker2", "worker1"]


def test_a_scale_down_stops_the_idle_worker_not_the_newest(own_redis: redis.Redis) -> None:
    workers = FakeWorkers()
    asked: list[int] = []

    def running_by_node() -> dict[str, int]:
        asked.append(1)
        return {"worker1@laptop": 0, "worker2@laptop": 1}

    autoscaler = scaler(own_redis, workers, running_by_node)
    own_redis.rpush("default", *[b"task"] * 4)
    autoscaler.step(now=0)
    assert workers.names() == ["worker1", "worker2"]
    assert asked == []  # nothing to stop: Celery is not asked

    own_redis.delete("default")
    own_redis.hset("unacked", "t1", json.dumps([{}, "default", "default"]))
    own_redis.zadd("unacked_index", {"t1": time.time()})
    autoscaler.step(now=20)
    assert workers.stopped == ["worker1"]  # the newest, worker2, runs the task
    assert workers.names() == ["worker2"]
    assert asked == [1]


def test_workers_all_running_long_tasks_are_kept(own_redis: redis.Redis) -> None:
    """Celery's answer reaches the policy: with minute-long tasks on every worker, none of
    them is stopped for a scale-down (a stopped one would idle its free slot until its task
    ends), where without the answer one is."""
    for knows_idle in (True, False):
        own_redis.flushdb()
        workers = FakeWorkers()
        answer = dict.fromkeys(("worker1@laptop", "worker2@laptop", "worker3@laptop"), 1)
        autoscaler = scaler(own_redis, workers, answer.copy if knows_idle else None)
        own_redis.rpush("default", *[b"task"] * 6)
        autoscaler.step(now=0)
        assert workers.running == 3
        own_redis.delete("default")
        for task in ("t1", "t2", "t3"):  # one running on each worker, for a minute already
            own_redis.hset("unacked", task, json.dumps([{}, "default", "default"]))
            own_redis.zadd("unacked_index", {task: time.time() - 60})
        reasons = {autoscaler.step(now=t).reason for t in range(2, 60, 2)}
        if knows_idle:
            assert workers.stopped == []
            assert Reason.BUSY_REPLICAS in reasons
        else:
            assert workers.stopped == ["worker3"]


def test_a_scale_down_held_for_busy_workers_reuses_a_recent_answer(own_redis: redis.Redis) -> None:
    """Held poll after poll by long tasks, the scaler asks Celery once per `ANSWER_REUSE_S`,
    not at every poll (each ask is a broadcast every worker answers)."""
    workers = FakeWorkers()
    asked: list[float] = []

    def running_by_node() -> dict[str, int]:
        asked.append(1)
        return dict.fromkeys(("worker1@laptop", "worker2@laptop", "worker3@laptop"), 1)

    autoscaler = scaler(own_redis, workers, running_by_node)
    own_redis.rpush("default", *[b"task"] * 6)
    autoscaler.step(now=0)
    own_redis.delete("default")
    for task in ("t1", "t2", "t3"):
        own_redis.hset("unacked", task, json.dumps([{}, "default", "default"]))
        own_redis.zadd("unacked_index", {task: time.time() - 60})
    reasons = [autoscaler.step(now=t).reason for t in range(2, 62, 2)]
    held = reasons.count(Reason.BUSY_REPLICAS)
    assert held == 26  # from 10 s on, once the tasks are known to be long
    assert workers.stopped == []
    assert len(asked) == 6  # at 10, 20, 30, 40, 50 and 60 s
