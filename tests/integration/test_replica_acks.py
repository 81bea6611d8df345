"""What a 202 means with replicas: the submission is on the master and on at least
TASKLANE_REDIS_MIN_REPLICA_ACKS replicas (1 by default with sentinels), or the API answers 503.
A client's retry with the same Idempotency-Key then returns the task the refused attempt queued
instead of queueing a second."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_sentinel import ReplicatedRedis
from tests.support.polling import wait_for_status
from tests.support.processes import ServiceProcess, start_api, start_worker

pytestmark = pytest.mark.slow

KEY = {"Idempotency-Key": "order-7"}


@pytest.fixture
def group(tmp_path: Path) -> Iterator[ReplicatedRedis]:
    # The master takes writes with no replica following (min-replicas-to-write 0), so what
    # refuses the submission below is the API's wait for an acknowledgement alone.
    with ReplicatedRedis(tmp_path / "redis", min_replicas_to_write=0) as replicated:
        yield replicated


def test_no_replica_acknowledges_so_no_202_and_the_retry_queues_nothing_twice(
    group: ReplicatedRedis, tmp_path: Path
) -> None:
    env = group.settings_env() | {"TASKLANE_RETRY_AFTER_S": "3"}
    processes: list[ServiceProcess] = []
    try:
        processes.append(start_api(env, tmp_path, waiting_port := free_port()))
        unguarded_env = {**env, "TASKLANE_REDIS_MIN_REPLICA_ACKS": "0"}
        (logs := tmp_path / "unguarded").mkdir()
        processes.append(start_api(unguarded_env, logs, unguarded_port := free_port()))
        master = group.master()
        replicas = [node for node in group.nodes if node is not master]
        with (
            httpx.Client(base_url=f"http://127.0.0.1:{waiting_port}", timeout=10) as waiting,
            httpx.Client(base_url=f"http://127.0.0.1:{unguarded_port}", timeout=10) as unguarded,
            group.client(master) as redis_master,
        ):
            for replica in replicas:
                replica.send_signal(signal.SIGSTOP)  # they hold on to their connections
            try:
                refused = waiting.post("/v1/tasks/text.process", json={"data": "x"}, headers=KEY)
                # Without the guarantee the same write is answered 202 on the master alone.
                blind = unguarded.post("/v1/tasks/text.process", json={"data": "blind"})
            finally:
                for replica in replicas:
                    replica.send_signal(signal.SIGCONT)
            assert refused.status_code == 503, refused.text
            assert refused.headers["Retry-After"] == "3"
            assert "0 of the 1 replica(s) required" in refused.json()["detail"]
            assert blind.status_code == 202
            metrics = waiting.get("/metrics").text
            assert 'tasklane_api_tasks_rejected_total{reason="not_replicated"' in metrics
            # The refused attempt's task is on the master: the retry returns it.
            retried = waiting.post("/v1/tasks/text.process", json={"data": "x"}, headers=KEY)
            assert retried.status_code == 202, retried.text
            assert retried.headers["Idempotent-Replayed"] == "true"
            assert redis_master.llen("default") == 2  # the refused attempt's and the blind one
            processes.append(start_worker(env, tmp_path))
            done = wait_for_status(waiting, retried.json()["id"], {"SUCCESS"}, timeout_s=60)
            assert done["result"] == {"processed_data": "X"}
    finally:
        for process in processes:
            process.stop()
