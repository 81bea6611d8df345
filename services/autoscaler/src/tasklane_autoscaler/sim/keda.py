"""KEDA 2.x with its `redis` trigger driving an HPA v2, all on their defaults.

Two loops, as in a cluster:
- KEDA's operator polls every `pollingInterval` (30 s). It only activates: from 0 replicas to 1
  when the metric is above `activationListLength` (0), and back to 0 once the metric has been
  at or below it for `cooldownPeriod` (300 s), if `minReplicaCount` is 0.
- The HPA syncs every 15 s (`--horizontal-pod-autoscaler-sync-period`) while the target has
  replicas. KEDA's metrics server answers it with a live `LLEN <queue>` (metric caching is off by
  default) as an External metric with an `AverageValue` target of `listLength`, which is set to
  the worker concurrency. The HPA's arithmetic and its default `behavior` follow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tasklane_autoscaler.sim.engine import ClusterView, RemovalOrder
from tasklane_autoscaler.sim.trace import Trace

KEDA_POLLING_INTERVAL_S = 30.0
KEDA_COOLDOWN_PERIOD_S = 300.0
KEDA_ACTIVATION_LIST_LENGTH = 0
HPA_SYNC_PERIOD_S = 15.0
HPA_TOLERANCE = 0.1
HPA_SCALE_UP_STABILIZATION_S = 0.0
HPA_SCALE_UP_PODS = 4  # per period
HPA_SCALE_UP_PERCENT = 100  # per period
HPA_SCALE_UP_PERIOD_S = 15.0
HPA_SCALE_DOWN_STABILIZATION_S = 300.0
HPA_SCALE_DOWN_PERCENT = 100  # per period
HPA_SCALE_DOWN_PERIOD_S = 15.0


def metric_recommendation(metric: float, target_average: float, current: int) -> int:
    """Replicas an External metric with an AverageValue target asks for, within tolerance."""
    usage_ratio = metric / (target_average * current)
    if abs(usage_ratio - 1.0) <= HPA_TOLERANCE:
        return current
    return math.ceil(metric / target_average)


def stabilized(
    recommendation: int, current: int, history: list[tuple[float, int]], now: float
) -> int:
    """Scale up to the lowest recommendation of the up window (0 s: the current one), scale
    down only to the highest one of the down window (300 s)."""
    up_limit = recommendation
    down_limit = recommendation
    for at, past in history:
        if at > now - HPA_SCALE_UP_STABILIZATION_S:
            up_limit = min(up_limit, past)
        if at > now - HPA_SCALE_DOWN_STABILIZATION_S:
            down_limit = max(down_limit, past)
    result = max(current, up_limit)
    return min(result, down_limit)


def rate_limited(
    desired: int,
    current: int,
    changes: list[tuple[float, int]],
    now: float,
    min_replicas: int,
    max_replicas: int,
) -> int:
    """Apply the default scaling policies: up by max(4 pods, 100%) and down by at most 100%
    per 15 s, counted from the replica count at the start of the period."""
    if desired > current:
        added = sum(
            delta for at, delta in changes if delta > 0 and at > now - HPA_SCALE_UP_PERIOD_S
        )
        start = current - added
        by_pods = start + HPA_SCALE_UP_PODS
        by_percent = math.ceil(start * (1 + HPA_SCALE_UP_PERCENT / 100))
        ceiling = min(max(by_pods, by_percent), max_replicas)
        return max(min(desired, ceiling), min_replicas)
    if desired < current:
        removed = -sum(
            delta for at, delta in changes if delta < 0 and at > now - HPA_SCALE_DOWN_PERIOD_S
        )
        start = current + removed
        floor = math.floor(start * (1 - HPA_SCALE_DOWN_PERCENT / 100))
        return min(max(desired, floor, min_replicas), max_replicas)
    return max(min(desired, max_replicas), min_replicas)


@dataclass
class KedaController:
    """The simulator's stand-in for KEDA's operator plus the HPA it creates."""

    trace: Trace
    name: str = "keda"
    removal_order: RemovalOrder = RemovalOrder.REPLICASET  # the HPA picks pods blindly
    replicas: int = 0
    last_active_s: float = 0.0
    next_poll_s: float = 0.0
    next_sync_s: float = 0.0
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    changes: list[tuple[float, int]] = field(default_factory=list)

    @property
    def list_length(self) -> int:
        return self.trace.concurrency

    @property
    def hpa_min(self) -> int:
        return max(self.trace.min_replicas, 1)  # an HPA's minReplicas is at least 1

    def initial_replicas(self, trace: Trace) -> int:
        self.replicas = trace.min_replicas
        return self.replicas

    def first_tick(self) -> float | None:
        return 0.0

    def _activation(self, view: ClusterView) -> None:
        if view.waiting_base_list > KEDA_ACTIVATION_LIST_LENGTH:
            self.last_active_s = view.time
            if self.replicas == 0:
                self.replicas = 1
        elif (
            self.replicas > 0
            and self.trace.min_replicas == 0
            and view.time - self.last_active_s >= KEDA_COOLDOWN_PERIOD_S
        ):
            self.replicas = 0

    def _hpa_sync(self, view: ClusterView) -> None:
        if self.replicas == 0:
            return  # an HPA does nothing while its target is scaled to zero
        now = view.time
        current = self.replicas
        raw = metric_recommendation(view.waiting_base_list, self.list_length, current)
        desired = stabilized(raw, current, self.recommendations, now)
        self.recommendations.append((now, raw))
        horizon = now - max(HPA_SCALE_DOWN_STABILIZATION_S, HPA_SCALE_UP_STABILIZATION_S)
        self.recommendations = [(at, r) for at, r in self.recommendations if at > horizon]
        desired = rate_limited(
            desired, current, self.changes, now, self.hpa_min, self.trace.max_replicas
        )
        if desired != current:
            self.changes.append((now, desired - current))
            self.changes = [(at, d) for at, d in self.changes if at > now - HPA_SCALE_UP_PERIOD_S]
            self.replicas = desired

    def tick(self, view: ClusterView) -> tuple[int | None, float]:
        before = self.replicas
        if view.time >= self.next_poll_s:
            self._activation(view)
            self.next_poll_s += KEDA_POLLING_INTERVAL_S
        if view.time >= self.next_sync_s:
            self._hpa_sync(view)
            self.next_sync_s += HPA_SYNC_PERIOD_S
        target = self.replicas if self.replicas != before else None
        return target, min(self.next_poll_s, self.next_sync_s)


@dataclass
class FloorController:
    """The physical limit for waiting: every allowed replica, ready from time zero, forever."""

    name: str = "floor"
    removal_order: RemovalOrder = RemovalOrder.IDLE_FIRST

    def initial_replicas(self, trace: Trace) -> int:
        return trace.max_replicas

    def first_tick(self) -> float | None:
        return None

    def tick(self, view: ClusterView) -> tuple[int | None, float]:
        raise AssertionError("the floor never scales")
