"""Nothing accepted is lost: killed and stopped workers, a Redis restart, a poisoned message."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from kombu.connection import Connection
from kombu.entity import Exchange
from kombu.messaging import Producer

from tasklane_api.celery_message import MessageBuilder
from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_server import RedisServer
from tests.conftest import Stack
from tests.support.polling import eventually, wait_for_status
from tests.support.processes import ServiceProcess, start_api, start_worker


@pytest.fixture
def appendonly_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(free_port(), tmp_path / "redis", appendonly=True) as server:
        yield server


def submit_all(http: httpx.Client, name: str, bodies: list[dict[str, object]]) -> list[str]:
    ids = []
    for body in bodies:
        response = http.post(f"/v1/tasks/{name}", json=body)
        assert response.status_code == 202, response.text
        ids.append(str(response.json()["id"]))
    return ids


def test_tasks_of_a_killed_worker_run_on_the_next_one(
    appendonly_redis: RedisServer, tmp_path: Path
) -> None:
    env = {
        "TASKLANE_REDIS_URL": appendonly_redis.url,
        "TASKLANE_VISIBILITY_TIMEOUT_S": "4",
        "TASKLANE_WORKER_CONCURRENCY": "2",
    }
    api = start_api(env, tmp_path, port := free_port())
    first = start_worker(env, tmp_path, "first")
    second: ServiceProcess | None = None
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            ids = submit_all(http, "demo.sleep", [{"seconds": 2}] * 4)
            wait_for_status(http, ids[0], {"STARTED"})
            first.kill()  # SIGKILL: no chance to give anything back
            second = start_worker(env, tmp_path, "second")
            for task_id in ids:
                assert (
                    wait_for_status(http, task_id, {"SUCCESS", "FAILURE"}, 60)["status"]
                    == "SUCCESS"
                )
    finally:
        if second is not None:
            second.stop()
        api.stop()


def test_sigterm_finishes_running_tasks_and_returns_the_rest(
    appendonly_redis: RedisServer, tmp_path: Path
) -> None:
    env = {"TASKLANE_REDIS_URL": appendonly_redis.url, "TASKLANE_WORKER_CONCURRENCY": "2"}
    api = start_api(env, tmp_path, port := free_port())
    worker = start_worker(env, tmp_path, "stopping")
    after: ServiceProcess | None = None
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            ids = submit_all(http, "demo.sleep", [{"seconds": 3}] * 5)
            running = eventually(
                lambda: (
                    [i for i in ids if http.get(f"/v1/tasks/{i}").json()["status"] == "STARTED"]
                    if sum(http.get(f"/v1/tasks/{i}").json()["status"] == "STARTED" for i in ids)
                    == 2
                    else None
                )
            )
            worker.signal(signal.SIGTERM)
            assert worker.process.wait(30) == 0
            statuses = {i: http.get(f"/v1/tasks/{i}").json()["status"] for i in ids}
            assert {statuses[i] for i in running} == {"SUCCESS"}  # finished, not cut
            assert [s for i, s in statuses.items() if i not in running] == ["PENDING"] * 3
            queues = http.get("/v1/queues").json()["queues"]
            assert next(q for q in queues if q["name"] == "default")["waiting"] == 3
            after = start_worker(env, tmp_path, "after")
            for task_id in ids:
                assert wait_for_status(http, task_id, {"SUCCESS"}, 30)["status"] == "SUCCESS"
    finally:
        if after is not None:
            after.stop()
        worker.kill()
        api.stop()


def test_queued_tasks_survive_a_redis_restart(
    appendonly_redis: RedisServer, tmp_path: Path
) -> None:
    env = {"TASKLANE_REDIS_URL": appendonly_redis.url}
    api = start_api(env, tmp_path, port := free_port())
    worker: ServiceProcess | None = None
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            ids = submit_all(http, "text.process", [{"data": f"n{i}"} for i in range(5)])
            appendonly_redis.stop()
            appendonly_redis.start()
            worker = start_worker(env, tmp_path)
            results = [wait_for_status(http, i, {"SUCCESS"}, 60)["result"] for i in ids]
            assert results == [{"processed_data": f"N{i}"} for i in range(5)]
    finally:
        if worker is not None:
            worker.stop()
        api.stop()


class RunsCode:
    """A pickle that runs a command when loaded: what a worker must never do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.system, (f"touch {self.marker}",)


def test_a_pickled_message_is_refused_and_never_run(stack: Stack, tmp_path: Path) -> None:
    marker = tmp_path / "pickle-ran"
    task_id = str(uuid.uuid4())
    with Connection(stack.redis.url) as connection:
        Producer(connection).publish(
            RunsCode(marker),
            exchange=Exchange("default", type="direct"),
            routing_key="default",
            serializer="pickle",
            headers={"task": "text.process", "id": task_id, "lang": "py"},
        )
    with httpx.Client(base_url=stack.base_url, timeout=10) as http:
        # The worker goes on to the next task...
        follow_up = http.post("/v1/tasks/text.process", json={"data": "after pickle"}).json()["id"]
        assert wait_for_status(http, follow_up, {"SUCCESS"})["status"] == "SUCCESS"
    # ...having refused the pickle without loading it.
    eventually(lambda: "untrusted content" in stack.worker.log(), timeout_s=10)
    assert not marker.exists()


def test_a_redelivered_copy_of_a_finished_task_is_not_run_again(
    stack: Stack, client: httpx.Client, redis_client: redis.Redis
) -> None:
    """What a lost acknowledgement does (a Redis failover that kept the result but not the ack,
    a worker gone between the two): the message comes again. The worker finds the stored
    SUCCESS and acknowledges the copy without running the task or touching its result."""
    answer = client.post("/v1/tasks/text.process", json={"data": "once"})
    task_id = answer.json()["id"]
    first = wait_for_status(client, task_id, {"SUCCESS"})
    copy = MessageBuilder().task(task_id, "text.process", {"data": "once"}, "default")
    redis_client.lpush("default", copy)
    eventually(lambda: f"Task text.process[{task_id}] ignored" in stack.worker.log(), 20)
    assert stack.worker.log().count(f"Task text.process[{task_id}] succeeded") == 1
    assert client.get(f"/v1/tasks/{task_id}").json() == first  # the result is the first run's
    assert redis_client.llen("default") == 0
    eventually(lambda: not any(task_id in str(v) for v in redis_client.hvals("unacked")), 10)
