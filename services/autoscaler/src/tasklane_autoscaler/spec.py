"""A WorkerAutoscaler's spec, read and checked: what the timer needs to decide and act."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tasklane_autoscaler.policy import ScalingSpec

GROUP = "tasklane.io"
VERSION = "v1"
PLURAL = "workerautoscalers"

# pollIntervalSeconds when the spec leaves it out. Two seconds, not five: on a burst the first
# replicas are asked for up to three seconds sooner, and a poll costs one GET and one LIST.
DEFAULT_POLL_INTERVAL_S = 2.0
# The policy's own defaults stand for every setting the spec leaves out.
_POLICY_DEFAULTS = ScalingSpec(concurrency=1)


@dataclass(frozen=True)
class AutoscalerSpec:
    target_deployment: str
    queues: tuple[str, ...]
    scaling: ScalingSpec
    poll_interval_s: float
    pod_selector: str | None  # None: the Deployment's own selector


def parse_spec(spec: Mapping[str, Any]) -> AutoscalerSpec:
    """Raises ValueError with a readable message for a spec the operator cannot act on (the
    CRD's schema rejects most of them before they get here)."""
    target = spec.get("targetDeployment")
    if not isinstance(target, str) or not target:
        raise ValueError("spec.targetDeployment must name the worker Deployment")
    queues = spec.get("queues")
    if not isinstance(queues, list) or not queues or not all(isinstance(q, str) for q in queues):
        raise ValueError("spec.queues must list at least one queue name")
    concurrency = spec.get("concurrency")
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError("spec.concurrency must be a positive integer")
    minimum = int(spec.get("minReplicas", _POLICY_DEFAULTS.min_replicas))
    maximum = int(spec.get("maxReplicas", _POLICY_DEFAULTS.max_replicas))
    if not 0 <= minimum <= maximum:
        raise ValueError(f"need 0 <= minReplicas ({minimum}) <= maxReplicas ({maximum})")
    tasks_per_replica = spec.get("tasksPerReplica")
    base_window = float(
        spec.get("scaleDownStabilizationSeconds", _POLICY_DEFAULTS.scale_down_stabilization_s)
    )
    scaling = ScalingSpec(
        concurrency=concurrency,
        min_replicas=minimum,
        max_replicas=maximum,
        tasks_per_replica=int(tasks_per_replica) if tasks_per_replica is not None else None,
        target_wait_s=float(spec.get("targetWaitSeconds", _POLICY_DEFAULTS.target_wait_s)),
        scale_down_stabilization_s=base_window,
        max_stabilization_s=float(
            spec.get(
                "maxScaleDownStabilizationSeconds",
                max(_POLICY_DEFAULTS.max_stabilization_s, base_window),
            )
        ),
        startup_s=float(spec.get("workerStartupSeconds", _POLICY_DEFAULTS.startup_s)),
    )
    poll = float(spec.get("pollIntervalSeconds", DEFAULT_POLL_INTERVAL_S))
    if poll <= 0:
        raise ValueError("spec.pollIntervalSeconds must be positive")
    selector = spec.get("podSelector")
    return AutoscalerSpec(
        target_deployment=target,
        queues=tuple(queues),
        scaling=scaling,
        poll_interval_s=poll,
        pod_selector=selector if isinstance(selector, str) and selector else None,
    )
