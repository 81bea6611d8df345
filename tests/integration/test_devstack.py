"""`make run`'s runner: the whole stack comes up, serves a task, and SIGTERM leaves nothing."""

from __future__ import annotations

import re
import signal
import uuid
from pathlib import Path

import httpx

from tasklane_devstack.ports import free_port
from tests.support.polling import eventually, wait_for_status
from tests.support.processes import start_runner


def processes_with_marker(marker: str) -> list[int]:
    """Pids whose environment carries the marker: every process the runner started."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in environ:
            found.append(int(entry.name))
    return found


def test_runner_serves_tasks_and_stops_every_child(tmp_path: Path) -> None:
    marker = f"TASKLANE_TEST_MARKER={uuid.uuid4()}"
    port, exporter_port = free_port(), free_port()
    runner, _ = start_runner(
        tmp_path,
        {
            "TASKLANE_API_PORT": str(port),
            "TASKLANE_EXPORTER_PORT": str(exporter_port),
            marker.split("=")[0]: marker.split("=")[1],
        },
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:

            def submitted() -> str | None:
                try:
                    response = http.post("/v1/tasks/text.process", json={"data": "stack"})
                except httpx.HTTPError:
                    return None
                return str(response.json()["id"]) if response.status_code == 202 else None

            task_id = eventually(submitted, timeout_s=60, every_s=0.5)
            done = wait_for_status(http, task_id, {"SUCCESS"}, timeout_s=60)
            assert done["result"] == {"processed_data": "STACK"}
            assert 'tasklane_queue_waiting{queue="default"}' in http.get("/metrics").text

            def exporter_metrics() -> str | None:
                try:
                    response = httpx.get(f"http://127.0.0.1:{exporter_port}/metrics", timeout=10)
                except httpx.HTTPError:
                    return None
                return response.text if response.status_code == 200 else None

            # The first run fetches the exporter's own environment from PyPI.
            eventually(exporter_metrics, timeout_s=180, every_s=1)
            second = eventually(submitted, timeout_s=10)
            wait_for_status(http, second, {"SUCCESS"}, timeout_s=60)

            def succeeded_counted() -> bool:
                return any(
                    line.startswith("celery_task_succeeded_total{")
                    and 'name="text.process"' in line
                    and not line.endswith(" 0.0")
                    for line in (exporter_metrics() or "").splitlines()
                )

            eventually(succeeded_counted, timeout_s=30, every_s=0.5)
        # redis, api, worker (+ its pool processes) and beat, besides the runner itself
        assert len(processes_with_marker(marker)) >= 5
        log = (tmp_path / "run.log").read_text()
        assert "API docs" in log and "embedded Redis" in log
        assert f"http://127.0.0.1:{port}/metrics" in log
        assert f"http://127.0.0.1:{exporter_port}/metrics" in log
    finally:
        runner.send_signal(signal.SIGTERM)
        code = runner.wait(60)
    assert code == 0
    assert eventually(lambda: processes_with_marker(marker) == [], timeout_s=10)
    assert (tmp_path / ".tasklane" / "redis").is_dir()  # the AOF data stays for next time


def test_autoscale_grows_and_shrinks_local_workers(tmp_path: Path) -> None:
    marker = f"{uuid.uuid4()}"
    port = free_port()
    runner, log = start_runner(
        tmp_path,
        {
            "TASKLANE_API_PORT": str(port),
            "TASKLANE_TEST_MARKER": marker,
            "TASKLANE_WORKER_CONCURRENCY": "1",
            "TASKLANE_AUTOSCALE": "1",
            "TASKLANE_AUTOSCALE_MAX": "3",
            "TASKLANE_AUTOSCALE_SCALE_DOWN_S": "2",
        },
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:

            def up() -> bool:
                try:
                    return http.get("/readyz").status_code == 200
                except httpx.HTTPError:
                    return False

            eventually(up, timeout_s=60, every_s=0.5)
            ids = [
                http.post("/v1/tasks/demo.sleep", json={"seconds": 1.5}).json()["id"]
                for _ in range(12)
            ]
            eventually(lambda: "workers 1 -> 3" in log.read_text() or None, timeout_s=30)
            for task_id in ids:
                assert wait_for_status(http, task_id, {"SUCCESS"}, timeout_s=60)["result"]
            eventually(lambda: "-> 1 (" in log.read_text() or None, timeout_s=60)
    finally:
        runner.send_signal(signal.SIGTERM)
        code = runner.wait(60)
    assert code == 0
    assert eventually(lambda: processes_with_marker(marker) == [], timeout_s=10)


def test_flower_starts_on_its_port_behind_the_printed_password(tmp_path: Path) -> None:
    marker = f"{uuid.uuid4()}"
    port, flower_port = free_port(), free_port()
    runner, log = start_runner(
        tmp_path,
        {
            "TASKLANE_API_PORT": str(port),
            "TASKLANE_EXPORTER_PORT": str(free_port()),
            "TASKLANE_FLOWER": "1",
            "TASKLANE_FLOWER_LISTEN_PORT": str(flower_port),
            "TASKLANE_TEST_MARKER": marker,
        },
    )
    try:
        banner = eventually(
            lambda: re.search(
                r"Flower +(http://\S+) +\(user (\S+), password (\S+)\)", log.read_text()
            ),
            timeout_s=60,
            every_s=0.5,
        )
        url, user, password = banner.groups()
        assert url == f"http://127.0.0.1:{flower_port}"

        def workers(auth: tuple[str, str] | None) -> httpx.Response | None:
            try:
                return httpx.get(f"{url}/api/workers?refresh=1", auth=auth, timeout=10)
            except httpx.HTTPError:
                return None

        def listed_workers() -> dict[str, object] | None:
            # Empty until Flower's first inspect has the workers' answers.
            response = workers((user, password))
            if response is None or response.status_code != 200 or not response.content:
                return None
            return response.json() or None

        listed = eventually(listed_workers, timeout_s=90, every_s=1)
        assert any(name.startswith("worker") for name in listed)
        refused = workers(None)
        assert refused is not None and refused.status_code == 401
    finally:
        runner.send_signal(signal.SIGTERM)
        code = runner.wait(60)
    assert code == 0
    assert eventually(lambda: processes_with_marker(marker) == [], timeout_s=10)
