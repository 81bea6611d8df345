"""Prometheus metrics of the operator, labelled by WorkerAutoscaler (`namespace/name`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

# Deleted objects remembered, so a poll that was already under way when its object was deleted
# does not bring the series back; more than a few are only ever deleted in bulk.
FORGOTTEN_KEPT = 1000


class AutoscalerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._forgotten: dict[str, None] = {}  # uids of deleted objects, oldest first
        self.backlog = Gauge(
            "tasklane_autoscaler_backlog",
            "Tasks waiting in the queue's lists, every priority.",
            ["autoscaler", "queue"],
            registry=self.registry,
        )
        self.reserved = Gauge(
            "tasklane_autoscaler_reserved",
            "Tasks reserved by workers and not yet acknowledged.",
            ["autoscaler", "queue"],
            registry=self.registry,
        )
        self.current_replicas = Gauge(
            "tasklane_autoscaler_current_replicas",
            "Replicas of the target Deployment before the decision.",
            ["autoscaler"],
            registry=self.registry,
        )
        self.desired_replicas = Gauge(
            "tasklane_autoscaler_desired_replicas",
            "Replicas the last decision asked for.",
            ["autoscaler"],
            registry=self.registry,
        )
        # The bounds, so dashboards and alerts compare replicas with the real cap.
        self.min_replicas = Gauge(
            "tasklane_autoscaler_min_replicas",
            "The WorkerAutoscaler's minReplicas.",
            ["autoscaler"],
            registry=self.registry,
        )
        self.max_replicas = Gauge(
            "tasklane_autoscaler_max_replicas",
            "The WorkerAutoscaler's maxReplicas.",
            ["autoscaler"],
            registry=self.registry,
        )
        self.decisions = Counter(
            "tasklane_autoscaler_decisions",
            "Scaling decisions, by reason.",
            ["autoscaler", "reason"],
            registry=self.registry,
        )
        self.scale_patches = Counter(
            "tasklane_autoscaler_scale_patches",
            "Changes of a Deployment's replicas, by direction.",
            ["autoscaler", "direction"],
            registry=self.registry,
        )

    def forgotten(self, uid: str | None) -> bool:
        """Was the object with this uid deleted? (A new one of the same name has another uid.)"""
        return uid is not None and uid in self._forgotten

    def forget(self, autoscaler: str, uid: str | None = None) -> None:
        """Drop every series of a deleted WorkerAutoscaler: its last values would otherwise be
        exported (and alerted on) until the operator restarts. With its uid, later writes for
        that object are refused (see `forgotten`)."""
        if uid is not None:
            self._forgotten[uid] = None
            while len(self._forgotten) > FORGOTTEN_KEPT:
                del self._forgotten[next(iter(self._forgotten))]
        for metric in (
            self.backlog,
            self.reserved,
            self.current_replicas,
            self.desired_replicas,
            self.min_replicas,
            self.max_replicas,
            self.decisions,
            self.scale_patches,
        ):
            metric.remove_by_labels({"autoscaler": autoscaler})
