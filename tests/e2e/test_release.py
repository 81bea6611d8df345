"""The README's install on a real cluster, and what a user relies on after it. The tests run in
this order on one release; each leaves it as it found it. Bounds are generous; the measured
figures are printed at the end of the run."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import RELEASE, figure
from tests.e2e.deployed import Deployed
from tests.e2e.kube import pods_not_ready, restarts, until

pytestmark = pytest.mark.timeout(1800)

READY_BOUND_S = 300
GENERAL = f"{RELEASE}-worker-general"
REPORTS = f"{RELEASE}-worker-reports"
REDIS = f"{RELEASE}-redis"


def test_every_pod_is_ready_within_the_bound(deployed: Deployed) -> None:
    _, seconds = until(lambda: pods_not_ready(deployed.pods()) == [], READY_BOUND_S)
    figure("every pod Ready after the install returned", seconds)


def test_helm_test_passes(deployed: Deployed) -> None:
    started = time.monotonic()
    cluster = deployed.cluster
    cluster.run(cluster.helm("test", RELEASE, "--logs", "--timeout", "5m"), timeout_s=360)
    figure("helm test", time.monotonic() - started)


def test_a_round_trip_through_the_api_service(deployed: Deployed) -> None:
    request = {"name": "text.process", "args": {"data": "hello"}, "count": 1, "rate": 1}
    submitted = deployed.in_cluster("submit", request)
    assert len(submitted["accepted"]) == 1, submitted
    done = deployed.in_cluster("wait", {"ids": submitted["accepted"], "timeout_s": 60})
    assert done["statuses"] == {"SUCCESS": 1}, done
    figure("round trip through the API Service (polled each second)", done["waited_s"])


def test_kubectl_scale_of_a_pool_without_autoscaling_holds(deployed: Deployed) -> None:
    cluster = deployed.cluster
    cluster.run(cluster.kubectl("scale", f"deployment/{GENERAL}", "--replicas=2"))
    _, seconds = until(lambda: deployed.replicas(GENERAL) == (2, 2), 180)
    figure("kubectl scale 1 -> 2 Ready", seconds)
    # No scaler owns this pool: the count it was given stays.
    time.sleep(30)
    assert deployed.replicas(GENERAL) == (2, 2)
    cluster.run(cluster.kubectl("scale", f"deployment/{GENERAL}", "--replicas=1"))
    until(lambda: deployed.replicas(GENERAL) == (1, 1), 180)


def test_the_operator_scales_a_pool_up_on_a_backlog_and_back_down(deployed: Deployed) -> None:
    spec = deployed.cluster.get("workerautoscaler", REPORTS)["spec"]
    lowest, highest = spec["minReplicas"], spec["maxReplicas"]
    assert deployed.replicas(REPORTS)[0] == lowest
    # Twice what the most replicas run at once, each task about 10 s.
    count = 2 * highest * spec["concurrency"]
    args = {"rows": 2000, "seconds_per_row": 0.005}
    submitted = deployed.in_cluster(
        "submit", {"name": "report.generate", "args": args, "count": count, "rate": 20}
    )
    assert len(submitted["accepted"]) == count, submitted
    _, up_s = until(lambda: deployed.replicas(REPORTS) == (highest, highest), 240)
    figure(f"operator: {count} tasks queued -> {highest} Ready replicas", up_s)
    done = deployed.in_cluster("wait", {"ids": submitted["accepted"], "timeout_s": 600})
    assert done["statuses"] == {"SUCCESS": count}, done
    window_s = spec["maxScaleDownStabilizationSeconds"]
    _, down_s = until(lambda: deployed.replicas(REPORTS)[0] == lowest, window_s + 240)
    figure(f"operator: backlog gone -> back to {lowest} replica(s)", down_s)


def test_a_worker_pod_force_deleted_mid_task_loses_no_accepted_task(deployed: Deployed) -> None:
    (pod,) = [name for name in restarts(deployed.pods("worker")) if name.startswith(GENERAL)]
    request = {"name": "demo.sleep", "args": {"seconds": 20}, "count": 6, "rate": 10}
    submitted = deployed.in_cluster("submit", request)
    ids = submitted["accepted"]
    assert len(ids) == request["count"], submitted

    def running() -> bool:
        now = deployed.in_cluster("wait", {"ids": ids, "timeout_s": 0})
        return "STARTED" in now["statuses"]

    until(running, 120)
    cluster = deployed.cluster
    cluster.run(cluster.kubectl("delete", "pod", pod, "--force", "--grace-period=0"))
    # The worker's lease (15 s) lapses, a live worker gives its tasks back, they run (20 s):
    # well within three minutes, where the visibility timeout would take an hour.
    done = deployed.in_cluster("wait", {"ids": ids, "timeout_s": 180})
    assert done["statuses"] == {"SUCCESS": len(ids)}, done
    figure("force-deleted worker: every accepted task SUCCESS after", done["waited_s"])


def test_a_rollout_restart_of_the_workers_under_load_loses_no_task(deployed: Deployed) -> None:
    cluster = deployed.cluster
    load = deployed.start_in_cluster(
        "submit", {"name": "demo.sleep", "args": {"seconds": 1}, "count": 160, "rate": 4}
    )
    time.sleep(10)
    started = time.monotonic()
    cluster.run(cluster.kubectl("rollout", "restart", f"deployment/{GENERAL}"))
    cluster.run(
        cluster.kubectl("rollout", "status", f"deployment/{GENERAL}", "--timeout=10m"),
        timeout_s=660,
    )
    figure("rollout restart of the general pool under load", time.monotonic() - started)
    submitted = deployed.finish(load)
    assert submitted["rejected"] == {}, submitted
    done = deployed.in_cluster("wait", {"ids": submitted["accepted"], "timeout_s": 600})
    assert done["statuses"] == {"SUCCESS": len(submitted["accepted"])}, done


def test_redis_away_for_a_minute_the_api_answers_503_then_recovers(deployed: Deployed) -> None:
    cluster = deployed.cluster
    workers_before = restarts(deployed.pods("worker"))
    cluster.run(cluster.kubectl("scale", f"statefulset/{REDIS}", "--replicas=0"))
    until(lambda: not deployed.pods("redis")["items"], 120)
    try:
        request = {"name": "text.process", "args": {"data": "x"}, "seconds": 60, "every_s": 0.5}
        outage = deployed.in_cluster("watch", request)["outcomes"]
    finally:
        cluster.run(cluster.kubectl("scale", f"statefulset/{REDIS}", "--replicas=1"))
    # Every answer a 503 with Retry-After: never a refused connection, never a timeout.
    wrong = [o for o in outage if o[1] != 503 or not o[2]]
    assert outage and not wrong, f"{len(wrong)} of {len(outage)} answers: {wrong[:10]}"
    started = time.monotonic()
    cluster.run(cluster.kubectl("rollout", "status", f"statefulset/{REDIS}", "--timeout=5m"))

    def round_trip() -> bool:
        request = {"name": "text.process", "args": {"data": "back"}, "count": 1, "rate": 1}
        submitted = deployed.in_cluster("submit", request)
        if not submitted["accepted"]:
            return False
        done = deployed.in_cluster("wait", {"ids": submitted["accepted"], "timeout_s": 60})
        return bool(done["statuses"] == {"SUCCESS": 1})

    until(round_trip, 300, every_s=5)
    figure("Redis back: a task round trip succeeds after", time.monotonic() - started)
    assert restarts(deployed.pods("worker")) == workers_before, "a worker restarted or was replaced"
