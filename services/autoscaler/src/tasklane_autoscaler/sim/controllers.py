"""tasklane's policy as a simulated controller, and the registry of simulated policies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tasklane_autoscaler.policy import Observation, PolicyState, ScalingSpec, decide
from tasklane_autoscaler.sim.engine import ClusterView, Controller, RemovalOrder
from tasklane_autoscaler.sim.keda import FloorController, KedaController
from tasklane_autoscaler.sim.trace import Trace
from tasklane_autoscaler.spec import DEFAULT_POLL_INTERVAL_S


@dataclass
class TasklaneController:
    """The operator's loop: read the backlog every poll interval, decide, set replicas."""

    spec: ScalingSpec
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S  # the operator's default
    name: str = "tasklane"
    removal_order: RemovalOrder = RemovalOrder.IDLE_FIRST  # pod-deletion-cost from running tasks
    state: PolicyState = field(default_factory=PolicyState)

    @classmethod
    def for_trace(cls, trace: Trace) -> TasklaneController:
        spec = ScalingSpec(
            concurrency=trace.concurrency,
            min_replicas=trace.min_replicas,
            max_replicas=trace.max_replicas,
            startup_s=trace.startup_s,
        )
        return cls(spec=spec)

    def initial_replicas(self, trace: Trace) -> int:
        return trace.min_replicas

    def first_tick(self) -> float | None:
        return 0.0

    def tick(self, view: ClusterView) -> tuple[int | None, float]:
        observation = Observation(
            time=view.time,
            waiting=view.waiting,
            reserved=view.running,
            replicas=view.replicas,
            ready=view.ready,
            running_mean_age_s=view.running_mean_age_s,
            reserved_on_leaving=view.running_on_leaving,
            idle_replicas=view.idle,
            finished_of_reserved=view.finished_of_seen,
        )
        decision = decide(observation, self.spec, self.state)
        self.state = decision.state
        target = decision.desired if decision.desired != view.replicas else None
        return target, view.time + self.poll_interval_s


POLICIES: dict[str, Callable[[Trace], Controller]] = {
    "tasklane": TasklaneController.for_trace,
    "keda": lambda trace: KedaController(trace=trace),
    "floor": lambda trace: FloorController(),
}
