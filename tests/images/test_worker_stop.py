"""`podman stop` of the worker image, as Kubernetes stops a pod: SIGTERM to PID 1, SIGKILL
after the pod's terminationGracePeriodSeconds. A task running longer than the worker's
TASKLANE_SHUTDOWN_TIMEOUT_S is handed back to its queue, the worker exits 0 within the grace
period, and another worker then runs the task to SUCCESS."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.chart.render import pod_spec
from tests.images.build import IMAGE_TEST
from tests.images.podman import Podman
from tests.images.release import API, NAMESPACE, REDIS, WORKER, api_client, api_key, start_release
from tests.support.polling import eventually, wait_for_status

pytestmark = IMAGE_TEST


def test_stopping_a_worker_hands_its_running_task_back_within_the_grace_period(
    podman: Podman, images: dict[str, str], redis_image: str, tmp_path: Path
) -> None:
    with podman.session() as scoped:
        release = start_release(
            scoped, tmp_path, [REDIS, API, WORKER], f"{NAMESPACE}-stop-{os.getpid()}"
        )
        grace_s = pod_spec(release.rendered.workload(WORKER))["terminationGracePeriodSeconds"]
        shutdown_s = float(release.env(WORKER)["TASKLANE_SHUTDOWN_TIMEOUT_S"])
        assert shutdown_s < grace_s
        worker = release.container(WORKER)
        with api_client(release, api_key(release)) as client:
            sleep_s = shutdown_s + 10
            accepted = client.post("/v1/tasks/demo.sleep", json={"seconds": sleep_s})
            assert accepted.status_code == 202, accepted.text
            task_id = accepted.json()["id"]
            wait_for_status(client, task_id, {"STARTED"}, timeout_s=60)

            stopping = time.monotonic()
            scoped.run("stop", f"--time={grace_s}", worker, timeout=grace_s + 60)
            stopped_after_s = time.monotonic() - stopping
            print(f"worker stopped {stopped_after_s:.1f} s after SIGTERM (grace {grace_s} s)")
            state = scoped.state(worker)
            # 137 would be the SIGKILL at the end of the grace period.
            assert state["ExitCode"] == 0, release.logs()
            assert stopped_after_s < grace_s

            def default_queue() -> dict[str, int]:
                queues = client.get("/v1/queues").json()["queues"]
                found: dict[str, int] = next(q for q in queues if q["name"] == "default")
                return found

            # Handed back: waiting in its queue again, no longer reserved by the stopped worker.
            assert default_queue()["waiting"] == 1, default_queue()
            assert default_queue()["reserved"] == 0, default_queue()

            release.start(WORKER, name=f"{worker}-replacement")
            done = wait_for_status(client, task_id, {"SUCCESS", "FAILURE"}, sleep_s + 90)
            assert done["status"] == "SUCCESS", release.logs()
            eventually(lambda: default_queue()["waiting"] == 0, timeout_s=10)
