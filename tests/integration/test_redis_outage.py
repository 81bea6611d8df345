"""While Redis is down the API stays ready and says 503 with Retry-After, and a worker waits
for Redis alive but not ready, as the chart's probes see them; afterwards all recover by
themselves."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_server import RedisServer
from tests.support.chart_probes import exec_probe, http_probe_path, run_probe
from tests.support.polling import eventually, wait_for_status
from tests.support.processes import start_api, start_worker


def test_503_while_redis_is_down_then_recovery(fresh_redis: RedisServer, tmp_path: Path) -> None:
    env = {"TASKLANE_REDIS_URL": fresh_redis.url, "TASKLANE_RETRY_AFTER_S": "7"}
    port = free_port()
    api = start_api(env, tmp_path, port)
    worker = start_worker(env, tmp_path)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15) as http:
            before = http.post("/v1/tasks/text.process", json={"data": "before"})
            assert before.status_code == 202

            fresh_redis.stop()
            down = http.post("/v1/tasks/text.process", json={"data": "during"})
            assert down.status_code == 503
            assert down.headers["Retry-After"] == "7"
            assert http.get(f"/v1/tasks/{before.json()['id']}").status_code == 503
            assert http.get("/v1/queues").status_code == 503
            # /readyz reports Redis (for people and alerts); the chart's probes ask whether the
            # pod answers, so the pod stays in its Service and clients get the 503 above.
            assert http.get("/readyz").status_code == 503
            for probe in ("livenessProbe", "readinessProbe"):
                path = http_probe_path("api/api-deployment.yaml", probe)
                assert http.get(path).status_code == 200, (probe, path)

            fresh_redis.start()
            after = eventually(
                lambda: (
                    r
                    if (
                        r := http.post("/v1/tasks/text.process", json={"data": "after"})
                    ).status_code
                    == 202
                    else None
                ),
                timeout_s=20,
                every_s=0.5,
            )
            assert http.get("/readyz").status_code == 200
            # The worker reconnected by itself and runs the new task.
            done = wait_for_status(http, after.json()["id"], {"SUCCESS"}, timeout_s=60)
            assert done["result"] == {"processed_data": "AFTER"}
    finally:
        worker.stop()
        api.stop()


WORKER_PROBE_MAX_AGE_S = 20  # the least the chart allows (the consumer writes every 10 s)


@pytest.mark.slow
def test_a_worker_waiting_for_redis_is_alive_not_ready(
    fresh_redis: RedisServer, tmp_path: Path
) -> None:
    heartbeat = tmp_path / "worker-heartbeat"
    env = {"TASKLANE_REDIS_URL": fresh_redis.url, "TASKLANE_WORKER_HEARTBEAT_FILE": str(heartbeat)}
    probe_env = {**os.environ, **env}
    values = {"workerDefaults": {"heartbeatMaxAgeSeconds": WORKER_PROBE_MAX_AGE_S}}
    template = "worker/worker-deployment.yaml"
    liveness = exec_probe(template, "livenessProbe", values)
    readiness = exec_probe(template, "readinessProbe", values)

    def probe(command: list[str]) -> subprocess.CompletedProcess[str]:
        return run_probe(command, probe_env)

    worker = start_worker(env, tmp_path)
    try:
        assert probe(liveness).returncode == 0
        assert probe(readiness).returncode == 0

        fresh_redis.stop()
        stopped_at = time.monotonic()

        def failing_readiness() -> subprocess.CompletedProcess[str] | None:
            done = probe(readiness)
            return done if done.returncode == 1 else None

        not_ready = eventually(failing_readiness, timeout_s=30, every_s=1)
        assert "not ready: waiting-for-redis" in not_ready.stderr
        # Longer than the probe's limit: without the reconnection loop's heartbeat, liveness
        # would fail here and Kubernetes would restart a worker that only waits.
        while time.monotonic() - stopped_at < WORKER_PROBE_MAX_AGE_S * 1.5:
            alive = probe(liveness)
            assert alive.returncode == 0, alive.stderr
            assert probe(readiness).returncode == 1
            time.sleep(3)
        assert worker.process.poll() is None
        outage_s = time.monotonic() - stopped_at

        fresh_redis.start()
        eventually(lambda: probe(readiness).returncode == 0, timeout_s=60, every_s=1)
        ready_after_s = time.monotonic() - stopped_at - outage_s
        print(f"outage {outage_s:.0f} s; ready again {ready_after_s:.1f} s after Redis came back")

        # A consumer that is truly stuck (its process stopped) still fails liveness.
        with worker.frozen(WORKER_PROBE_MAX_AGE_S + 2):
            stuck = probe(liveness)
        assert stuck.returncode == 1
        assert "last state consuming" in stuck.stderr
    finally:
        worker.stop()
