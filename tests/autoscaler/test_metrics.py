"""The operator's metrics: a deleted WorkerAutoscaler's series go with it."""

from __future__ import annotations

from prometheus_client import generate_latest

from tasklane_autoscaler.metrics import AutoscalerMetrics


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
