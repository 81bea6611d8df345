"""A dead worker's tasks run again within a lease, a live worker's never: real workers, real
Redis, the default visibility timeout of an hour (the lease alone brings tasks back)."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from tasklane_contract.reservations import HOLDERS_KEY, REQUEUED_TOTAL_KEY
from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_server import RedisServer
from tests.support.polling import eventually, wait_for_status
from tests.support.processes import ServiceProcess, start_api, start_worker

pytestmark = pytest.mark.slow


@dataclass
class Fleet:
    redis: RedisServer
    http: httpx.Client
    env: dict[str, str]
    logs: Path
    workers: list[ServiceProcess]

    def start_worker(self, name: str) -> ServiceProcess:
        worker = start_worker(self.env, self.logs, name)
        self.workers.append(worker)
        return worker

    def submit(self, seconds: float, count: int = 1) -> list[str]:
        ids = []
        for _ in range(count):
            response = self.http.post("/v1/tasks/demo.sleep", json={"seconds": seconds})
            assert response.status_code == 202, response.text
            ids.append(str(response.json()["id"]))
        return ids

    def status(self, task_id: str) -> dict[str, object]:
        body: dict[str, object] = self.http.get(f"/v1/tasks/{task_id}").json()
        return body


@contextmanager
def fleet(redis_server: RedisServer, logs: Path, lease_s: float) -> Iterator[Fleet]:
    env = {
        "TASKLANE_REDIS_URL": redis_server.url,
        "TASKLANE_WORKER_LEASE_S": str(lease_s),
        "TASKLANE_WORKER_CONCURRENCY": "4",
    }
    api = start_api(env, logs, port := free_port())
    workers: list[ServiceProcess] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            yield Fleet(redis_server, http, env, logs, workers)
    finally:
        for worker in workers:
            if worker.process.poll() is None:
                os.killpg(worker.process.pid, signal.SIGCONT)  # a test may leave one stopped
            worker.stop()
        api.stop()


@pytest.fixture
def appendonly_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(free_port(), tmp_path / "redis", appendonly=True) as server:
        yield server


def received(worker: ServiceProcess, task_id: str) -> int:
    return worker.log().count(f"demo.sleep[{task_id}] received")


def running(fleet: Fleet, worker: ServiceProcess, ids: list[str]) -> bool:
    return all(received(worker, i) for i in ids) and all(
        fleet.status(i)["status"] == "STARTED" for i in ids
    )


def requeued(fleet: Fleet) -> dict[str, float]:
    client = redis.Redis.from_url(fleet.redis.url, decode_responses=True)
    try:
        counts = client.hgetall(REQUEUED_TOTAL_KEY)
    finally:
        client.close()
    return {str(k).replace("\n", ":"): float(v) for k, v in counts.items()}


def test_a_killed_workers_tasks_run_again_within_a_lease(
    fresh_redis: RedisServer, tmp_path: Path
) -> None:
    """Default lease (15 s), default visibility timeout (3600 s)."""
    TASK_S = 10
    with fleet(fresh_redis, tmp_path, lease_s=15) as f:
        first = f.start_worker("first")
        ids = f.submit(seconds=TASK_S, count=4)
        eventually(lambda: running(f, first, ids), timeout_s=30)
        second = f.start_worker("second")
        assert all(f.status(i)["status"] == "STARTED" for i in ids)
        killed_at = time.monotonic()
        first.kill()  # SIGKILL to its whole process group: no chance to give anything back
        for task_id in ids:
            assert wait_for_status(f.http, task_id, {"SUCCESS"}, timeout_s=60)["status"]
        recovered_s = time.monotonic() - killed_at
        print(f"4 tasks of a SIGKILLed worker: all SUCCESS {recovered_s:.1f}s after the kill")
        assert recovered_s < 15 + TASK_S + 20  # lease + one task + a margin for a loaded machine
        for task_id in ids:
            assert received(second, task_id) == 1
            assert f.status(task_id)["requeued"] == {
                "reason": "reclaimed",
                "at": f.status(task_id)["requeued"]["at"],  # type: ignore[index]
                "times": 1,
            }
        assert requeued(f) == {"reclaimed:default": 4.0}
        metrics = f.http.get("/metrics").text
        assert 'tasklane_tasks_requeued_total{queue="default",reason="reclaimed"} 4.0' in metrics
        assert "gave back 4 task(s) of first@" in second.log()


def freeze_a_busy_worker(
    f: Fleet, lease_s: float, task_s: float
) -> tuple[str, ServiceProcess, ServiceProcess]:
    """Two workers that have held their leases for a lease length, one task running on one of
    them, and that one frozen (SIGSTOP to its whole process group). Returns (task id, the
    frozen worker, the other one)."""
    workers = [f.start_worker("one"), f.start_worker("two")]
    time.sleep(lease_s)
    (task_id,) = f.submit(seconds=task_s)
    eventually(lambda: any(received(w, task_id) for w in workers), timeout_s=30)
    eventually(lambda: f.status(task_id)["status"] == "STARTED", timeout_s=30)
    time.sleep(0.5)  # its worker's main process has seen it start
    frozen, other = workers if received(workers[0], task_id) else reversed(workers)
    os.killpg(frozen.process.pid, signal.SIGSTOP)
    return task_id, frozen, other


def wake(worker: ServiceProcess) -> None:
    os.killpg(worker.process.pid, signal.SIGCONT)


def test_a_worker_frozen_for_less_than_its_lease_keeps_its_task(
    fresh_redis: RedisServer, tmp_path: Path
) -> None:
    with fleet(fresh_redis, tmp_path, lease_s=6) as f:
        task_id, frozen, other = freeze_a_busy_worker(f, lease_s=6, task_s=5)
        time.sleep(3)  # half a lease
        wake(frozen)
        assert wait_for_status(f.http, task_id, {"SUCCESS"}, timeout_s=30)["requeued"] is None
        time.sleep(2)  # a sweep or two more
        assert received(other, task_id) == 0
        assert f"demo.sleep[{task_id}] succeeded" in frozen.log()
        assert requeued(f) == {}


def test_a_worker_frozen_past_its_lease_finds_its_task_given_away(
    fresh_redis: RedisServer, tmp_path: Path
) -> None:
    with fleet(fresh_redis, tmp_path, lease_s=3) as f:
        task_id, frozen, other = freeze_a_busy_worker(f, lease_s=3, task_s=6)
        # Its lease expires; the other worker gives the task back and runs it.
        eventually(lambda: received(other, task_id), timeout_s=30)
        assert f.status(task_id)["requeued"]["reason"] == "reclaimed"  # type: ignore[index]
        wake(frozen)  # wakes while the other one runs the task
        eventually(lambda: "was given to another worker" in frozen.log(), timeout_s=30)
        done = wait_for_status(f.http, task_id, {"SUCCESS"}, timeout_s=30)
        assert done["requeued"]["times"] == 1
        assert f"demo.sleep[{task_id}] succeeded" in other.log()
        assert f"demo.sleep[{task_id}] succeeded" not in frozen.log()  # dropped, not stored
        client = redis.Redis.from_url(f.redis.url)
        try:
            eventually(lambda: client.hlen("unacked") == 0 and client.hlen(HOLDERS_KEY) == 0)
        finally:
            client.close()
        # The woken worker took its lease again and goes on working.
        assert "had expired (this worker was frozen" in frozen.log()
        other.stop()
        (after,) = f.submit(seconds=0.1)
        assert wait_for_status(f.http, after, {"SUCCESS"}, timeout_s=30)["status"] == "SUCCESS"
        assert f"demo.sleep[{after}] succeeded" in frozen.log()


def test_a_task_several_leases_long_is_never_reclaimed(
    fresh_redis: RedisServer, tmp_path: Path
) -> None:
    with fleet(fresh_redis, tmp_path, lease_s=2) as f:
        busy = f.start_worker("busy")
        (task_id,) = f.submit(seconds=10)  # five leases
        eventually(lambda: running(f, busy, [task_id]), timeout_s=30)
        other = f.start_worker("other")
        assert wait_for_status(f.http, task_id, {"SUCCESS"}, timeout_s=60)["requeued"] is None
        assert received(other, task_id) == 0
        assert requeued(f) == {}


RECLAIM_LINE = re.compile(r"^(\S+ \S+) WARNING tasklane_worker\.reclaim: gave back", re.M)


def test_a_redis_outage_longer_than_the_lease_reclaims_nothing_alive(
    appendonly_redis: RedisServer, tmp_path: Path
) -> None:
    """Redis stopped (its AOF kept) for two leases, then started again: every lease it replays
    has expired. Tasks the outage interrupted run again once; tasks running after it are not
    taken from their live workers; no worker sweeps before a lease after Redis is back."""
    lease_s = 3
    with fleet(appendonly_redis, tmp_path, lease_s=lease_s) as f:
        workers = [f.start_worker("one"), f.start_worker("two")]
        time.sleep(lease_s)
        interrupted = f.submit(seconds=8, count=2)
        eventually(lambda: all(f.status(i)["status"] == "STARTED" for i in interrupted))
        # Their workers' main processes have seen them start: Celery, cancelling a task on a
        # lost connection before that, marks it REVOKED (a race of its own, left alone here).
        time.sleep(2)
        appendonly_redis.stop()
        time.sleep(2 * lease_s)
        appendonly_redis.start()
        back_at = time.time()
        # Long tasks right after: their workers are alive and must keep them.
        kept = eventually(lambda: _submitted(f, seconds=3 * lease_s, count=2), timeout_s=30)
        for task_id in interrupted + kept:
            assert wait_for_status(f.http, task_id, {"SUCCESS"}, timeout_s=90)["status"]
        for task_id in kept:
            assert f.status(task_id)["requeued"] is None
            assert sum(received(w, task_id) for w in workers) == 1
        for task_id in interrupted:
            # Cut short by the lost connection, given back once the lease Redis replayed had
            # expired and a worker had renewed its own for a lease, then run again.
            assert sum(received(w, task_id) for w in workers) == 2
            assert f.status(task_id)["requeued"]["reason"] == "reclaimed"  # type: ignore[index]
        sweeps = [m for w in workers for m in RECLAIM_LINE.findall(w.log())]
        for stamp in sweeps:
            swept_at = time.mktime(time.strptime(stamp.split(",")[0], "%Y-%m-%d %H:%M:%S"))
            assert swept_at >= int(back_at) + lease_s - 1


def _submitted(f: Fleet, seconds: float, count: int) -> list[str] | None:
    try:
        return f.submit(seconds=seconds, count=count)
    except AssertionError:
        return None  # 503 while the API reconnects
