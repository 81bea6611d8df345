"""LocalScaler: the policy driving local worker processes, with a real Redis and fake
start/stop callbacks standing in for the stack runner."""

from __future__ import annotations

import json
import time

import redis

from tasklane_autoscaler.local import LocalScaler
from tasklane_autoscaler.policy import Reason, ScalingSpec

SPEC = ScalingSpec(
    concurrency=2, min_replicas=0, max_replicas=6, scale_down_stabilization_s=10, startup_s=2
)


class FakeWorkers:
    def __init__(self) -> None:
        self.running = 0
        self.started = 0
        self.stopped = 0

    def count(self) -> int:
        return self.running

    def start(self) -> None:
        self.running += 1
        self.started += 1

    def stop(self) -> None:
        self.running -= 1
        self.stopped += 1


def scaler(client: redis.Redis, workers: FakeWorkers) -> LocalScaler:
    return LocalScaler(
        client,
        ["default"],
        SPEC,
        count_workers=workers.count,
        start_worker=workers.start,
        stop_worker=workers.stop,
    )


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
    assert workers.stopped == 4


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
