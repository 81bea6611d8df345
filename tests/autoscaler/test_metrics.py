"""The operator's metrics: a deleted WorkerAutoscaler's series go with it."""

from __future__ import annotations

from prometheus_client import generate_latest

from tasklane_autoscaler.metrics import FORGOTTEN_KEPT, AutoscalerMetrics


def test_forget_drops_only_that_autoscalers_series() -> None:
    metrics = AutoscalerMetrics()
    for key in ("shop/workers", "shop/reports"):
        metrics.backlog.labels(key, "default").set(3)
        metrics.reserved.labels(key, "default").set(1)
        metrics.desired_replicas.labels(key).set(2)
        metrics.decisions.labels(key, "backlog").inc()
        metrics.scale_patches.labels(key, "up").inc()

    metrics.forget("shop/workers")

    exported = generate_latest(metrics.registry).decode()
    assert 'autoscaler="shop/workers"' not in exported
    assert 'tasklane_autoscaler_backlog{autoscaler="shop/reports",queue="default"} 3.0' in exported
    assert (
        'tasklane_autoscaler_decisions_total{autoscaler="shop/reports",reason="backlog"} 1.0'
        in exported
    )


def test_a_deleted_objects_late_poll_writes_nothing_but_a_new_one_of_its_name_does() -> None:
    metrics = AutoscalerMetrics()
    metrics.forget("shop/workers", uid="uid-1")
    assert metrics.forgotten("uid-1")
    assert not metrics.forgotten("uid-2")  # deleted and created again: another uid
    assert not metrics.forgotten(None)


def test_forgotten_uids_are_bounded() -> None:
    metrics = AutoscalerMetrics()
    for number in range(FORGOTTEN_KEPT + 5):
        metrics.forget(f"shop/w{number}", uid=f"uid-{number}")
    assert not metrics.forgotten("uid-0")  # the oldest went first
    assert metrics.forgotten(f"uid-{FORGOTTEN_KEPT + 4}")
