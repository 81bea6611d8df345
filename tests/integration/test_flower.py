"""Flower (`python -m tasklane_flower`) against a real API, worker and Redis: it lists the tasks
the workers ran and the workers themselves, its revoke reaches a running task, and it answers
nothing but its health check without credentials. Started with a URL prefix, as the chart's
Ingress runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasklane_devstack.ports import free_port
from tests.conftest import Stack
from tests.support.polling import eventually, wait_for_status
from tests.support.processes import ServiceProcess

CREDENTIALS = ("ops", "flower-test-password")
PREFIX = "flower"


@dataclass
class Flower:
    process: ServiceProcess
    base_url: str

    def get(self, path: str, auth: tuple[str, str] | None = CREDENTIALS) -> httpx.Response:
        return httpx.get(f"{self.base_url}{path}", auth=auth, timeout=10)

    def post(self, path: str, auth: tuple[str, str] | None = CREDENTIALS) -> httpx.Response:
        return httpx.post(f"{self.base_url}{path}", auth=auth, timeout=10)


def worker_names(flower: Flower) -> set[str] | None:
    # Until the workers answer Flower's first inspect, the list may come back empty.
    response = flower.get("/api/workers?refresh=1")
    if response.status_code != 200 or not response.content:
        return None
    return set(response.json()) or None


@pytest.fixture(scope="module")
def flower(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flower]:
    port = free_port()
    env = {**stack.env, "FLOWER_BASIC_AUTH": ":".join(CREDENTIALS)}
    process = ServiceProcess(
        "flower",
        "tasklane_flower",
        env,
        tmp_path_factory.mktemp("flower-logs"),
        f"--port={port}",
        "--address=127.0.0.1",
        f"--url_prefix={PREFIX}",
    )
    running = Flower(process, f"http://127.0.0.1:{port}/{PREFIX}")

    def healthy() -> bool:
        try:
            return running.get("/healthcheck", auth=None).text == "OK"
        except httpx.HTTPError:
            return False

    try:
        process.wait_for(healthy, timeout_s=60)
        # Flower builds its task list from the workers' events: have it see the worker first.
        eventually(lambda: worker_names(running), timeout_s=60, every_s=0.5)
    except BaseException:
        process.stop()
        raise
    yield running
    process.stop()


@pytest.mark.slow
class TestFlower:
    def test_lists_a_finished_task_with_its_result(
        self, flower: Flower, client: httpx.Client
    ) -> None:
        task_id = client.post("/v1/tasks/text.process", json={"data": "flower"}).json()["id"]
        wait_for_status(client, task_id, {"SUCCESS"})

        def listed() -> dict[str, Any] | None:
            tasks: dict[str, Any] = flower.get("/api/tasks?state=SUCCESS").json()
            return tasks.get(task_id)

        task = eventually(listed, timeout_s=30, every_s=0.5)
        assert task["name"] == "text.process"
        assert task["state"] == "SUCCESS"
        assert task["worker"].startswith("worker@")
        # The result as the worker stored it, read through the contract's result backend.
        result = flower.get(f"/api/task/result/{task_id}").json()
        assert result["state"] == "SUCCESS"
        assert result["result"] == {"processed_data": "FLOWER"}
        assert flower.get("/tasks").status_code == 200  # the page that shows the list

    def test_shows_the_workers_and_the_queues_they_consume(self, flower: Flower) -> None:
        workers = flower.get("/api/workers?refresh=1").json()
        (name,) = [n for n in workers if n.startswith("worker@")]
        consumed = {queue["name"] for queue in workers[name]["active_queues"]}
        assert consumed == {"default", "email", "reports", "maintenance"}
        assert workers[name]["stats"]["pool"]["max-concurrency"] == 4
        assert flower.get("/workers").status_code == 200

    def test_counts_the_waiting_tasks_of_every_queue(self, flower: Flower) -> None:
        # Flower reads the lengths from Redis itself, knowing the broker by its URL's scheme.
        response = flower.get("/api/queues/length")
        assert response.status_code == 200, response.text
        lengths = {q["name"]: q["messages"] for q in response.json()["active_queues"]}
        assert set(lengths) == {"default", "email", "reports", "maintenance"}
        assert all(isinstance(n, int) for n in lengths.values())
        assert flower.get("/broker").status_code == 200

    def test_revoke_terminates_a_running_task(self, flower: Flower, client: httpx.Client) -> None:
        task_id = client.post("/v1/tasks/demo.sleep", json={"seconds": 60}).json()["id"]
        wait_for_status(client, task_id, {"STARTED"})
        assert flower.post(f"/api/task/revoke/{task_id}?terminate=true").status_code == 200
        final = wait_for_status(client, task_id, {"REVOKED", "SUCCESS"}, timeout_s=20)
        assert final["status"] == "REVOKED"

    @pytest.mark.parametrize("path", ["/api/workers", "/api/tasks", "/workers", "/tasks", "/"])
    def test_refuses_a_request_without_credentials(self, flower: Flower, path: str) -> None:
        assert flower.get(path, auth=None).status_code == 401
        assert flower.get(path, auth=(CREDENTIALS[0], "wrong")).status_code == 401
        assert flower.get(path).status_code == 200

    def test_revoke_without_credentials_is_refused(self, flower: Flower) -> None:
        assert flower.post("/api/task/revoke/some-id", auth=None).status_code == 401

    def test_only_the_health_check_and_metrics_answer_without_credentials(
        self, flower: Flower
    ) -> None:
        # The health check is what the chart's probes call. Flower serves its Prometheus
        # metrics (task and worker counts, as celery-exporter's) to anyone who reaches it.
        response = flower.get("/healthcheck", auth=None)
        assert response.status_code == 200 and response.text == "OK"
        assert flower.get("/metrics", auth=None).status_code == 200


@pytest.mark.parametrize("auth_env", [{}, {"FLOWER_BASIC_AUTH": " "}])
def test_refuses_to_start_without_authentication(auth_env: dict[str, str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWER_")}
    done = subprocess.run(
        [sys.executable, "-m", "tasklane_flower", f"--port={free_port()}"],
        env={**env, **auth_env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Flower would be open to anyone" in done.stderr
