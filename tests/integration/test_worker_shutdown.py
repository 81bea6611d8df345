"""SIGTERM to a worker's main process (what Kubernetes and `podman stop` send to PID 1): running
tasks get TASKLANE_SHUTDOWN_TIMEOUT_S, then go back to their queue at once and the worker exits
0; with Redis away it exits promptly too."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest
import redis

from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_server import RedisServer
from tests.support.polling import eventually, wait_for_status
from tests.support.processes import ServiceProcess, start_api, start_worker

pytestmark = pytest.mark.slow

TIMEOUT_S = 3


def received(worker: ServiceProcess, task_id: str) -> bool:
    return f"demo.sleep[{task_id}] received" in worker.log()


def test_sigterm_hands_a_task_longer_than_the_timeout_back_at_once(
    fresh_redis: RedisServer, tmp_path: Path
) -> None:
    env = {
        "TASKLANE_REDIS_URL": fresh_redis.url,
        "TASKLANE_SHUTDOWN_TIMEOUT_S": str(TIMEOUT_S),
        "TASKLANE_WORKER_CONCURRENCY": "2",
    }  # the default visibility timeout (3600 s): only the hand-back can bring it back soon
    api = start_api(env, tmp_path, port := free_port())
    stopping = start_worker(env, tmp_path, "stopping")
    other: ServiceProcess | None = None
    client = redis.Redis.from_url(fresh_redis.url)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            long = http.post("/v1/tasks/demo.sleep", json={"seconds": 60}).json()["id"]
            short = http.post("/v1/tasks/demo.sleep", json={"seconds": 2}).json()["id"]
            eventually(lambda: received(stopping, long) and received(stopping, short))
            wait_for_status(http, long, {"STARTED"})
            stopping.signal(signal.SIGTERM)  # the main process only
            signalled = time.monotonic()
            assert stopping.process.wait(TIMEOUT_S + 30) == 0
            exited_s = time.monotonic() - signalled
            # Back in its queue the moment the worker let it go, not after the visibility
            # timeout; the client reads it as waiting again, and why.
            assert client.llen("default") == 1
            assert client.hlen("unacked") == 0
            waiting = http.get(f"/v1/tasks/{long}").json()
            assert waiting["status"] == "PENDING"
            assert waiting["requeued"]["reason"] == "shutdown"
            # The short task finished within the timeout, and counts once.
            assert wait_for_status(http, short, {"SUCCESS"})["requeued"] is None
            other = start_worker(env, tmp_path, "other")
            started = time.monotonic()
            wait_for_status(http, long, {"STARTED"}, timeout_s=30)
            started_s = time.monotonic() - started
            print(
                f"SIGTERM with a {TIMEOUT_S}s shutdown timeout: exited 0 after {exited_s:.1f}s; "
                f"another worker, once ready, started the task {started_s:.2f}s later"
            )
            assert exited_s >= TIMEOUT_S  # the running tasks had their time
            assert started_s < 10
            assert "Traceback" not in stopping.log()
            assert client.hgetall("tasklane:requeued-total") == {b"shutdown\ndefault": b"1"}
    finally:
        client.close()
        if other is not None:
            other.stop()
        stopping.kill()
        api.stop()


def test_sigterm_while_redis_is_away_exits_promptly(
    fresh_redis: RedisServer, tmp_path: Path
) -> None:
    env = {
        "TASKLANE_REDIS_URL": fresh_redis.url,
        "TASKLANE_SHUTDOWN_TIMEOUT_S": str(TIMEOUT_S),
    }
    api = start_api(env, tmp_path, port := free_port())
    worker = start_worker(env, tmp_path)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            task_id = http.post("/v1/tasks/demo.sleep", json={"seconds": 60}).json()["id"]
            wait_for_status(http, task_id, {"STARTED"})
        api.stop()
        fresh_redis.stop()
        worker.wait_for_log("Connection to broker lost", timeout_s=30)
        time.sleep(3)  # reconnecting
        worker.signal(signal.SIGTERM)
        signalled = time.monotonic()
        assert worker.process.wait(TIMEOUT_S + 30) == 0
        print(f"SIGTERM with Redis away: exited after {time.monotonic() - signalled:.1f}s")
    finally:
        worker.kill()
        api.stop()
