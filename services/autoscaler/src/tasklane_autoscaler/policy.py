"""tasklane's scaling policy: how many worker replicas a queue backlog needs. Pure: no I/O,
no clock; the caller passes the observation, the spec and the history it kept.

Demand is what needs a worker slot now: tasks waiting in the queue's lists plus tasks workers
have reserved. Up is fast: the replicas that demand needs, plus its growth over one replica
startup, are asked for at once. Down is careful: to the highest need seen in the stabilisation
window, never below the replicas the reserved tasks occupy, and never to zero while any task is
reserved or waiting (a worker must be there to finish or pick it up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum


class Reason(str, Enum):
    SCALE_UP = "backlog"  # demand needs more replicas than there are
    SCALE_DOWN = "idle"  # fewer replicas cover the highest demand of the window
    STABILIZING = "stabilizing"  # demand fell, but not for the whole window yet
    RUNNING_TASKS = "running-tasks"  # lower would leave reserved tasks without their replica
    STEADY = "steady"  # the replicas there are match demand
    BOUNDS = "bounds"  # minReplicas/maxReplicas moved the answer


@dataclass(frozen=True)
class ScalingSpec:
    concurrency: int  # task slots of one replica
    min_replicas: int = 0
    max_replicas: int = 10
    tasks_per_replica: int | None = None  # demand one replica is sized for; default concurrency
    target_wait_s: float = 0.0  # how long a backlog may wait before replicas are added for it
    scale_down_stabilization_s: float = 60.0
    startup_s: float = 30.0  # expected time from asking for a replica to it taking tasks

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if not 0 <= self.min_replicas <= self.max_replicas:
            raise ValueError("need 0 <= min_replicas <= max_replicas")
        if self.tasks_per_replica is not None and self.tasks_per_replica < 1:
            raise ValueError("tasks_per_replica must be at least 1")

    @property
    def replica_demand(self) -> int:
        return self.tasks_per_replica or self.concurrency


@dataclass(frozen=True)
class Observation:
    time: float  # seconds on any monotonic clock
    waiting: int  # in the queue's lists (every priority)
    reserved: int  # taken by workers, not yet acknowledged
    replicas: int  # replicas asked for now (the Deployment's spec.replicas)


@dataclass(frozen=True)
class Sample:
    time: float
    demand: int
    wanted: int  # replicas this sample asked for before stabilisation
    backlog_since: float | None  # when the queue last went from empty to non-empty


@dataclass(frozen=True)
class Decision:
    desired: int
    reason: Reason
    demand: int
    history: tuple[Sample, ...]  # pass it back with the next observation


def running_floor(reserved: int, waiting: int, concurrency: int) -> int:
    """The fewest replicas that keep every reserved task's worker, and one for waiting work."""
    floor = math.ceil(reserved / concurrency)
    if reserved + waiting > 0:
        floor = max(floor, 1)
    return floor


def demand_growth_per_s(history: tuple[Sample, ...], now: float, demand: int, span: float) -> float:
    """Least-squares slope of demand over the last `span` seconds (0 with too few samples)."""
    points = [(s.time, float(s.demand)) for s in history if s.time > now - span]
    points.append((now, float(demand)))
    if len(points) < 3:
        return 0.0
    mean_t = sum(t for t, _ in points) / len(points)
    mean_d = sum(d for _, d in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return 0.0
    return sum((t - mean_t) * (d - mean_d) for t, d in points) / spread


def decide(obs: Observation, spec: ScalingSpec, history: tuple[Sample, ...] = ()) -> Decision:
    demand = obs.waiting + obs.reserved
    previous = history[-1] if history else None
    if obs.waiting == 0:
        backlog_since = None
    elif previous is not None and previous.backlog_since is not None:
        backlog_since = previous.backlog_since
    else:
        backlog_since = obs.time

    # Size for demand one startup from now: a replica asked for now only helps then.
    growth = demand_growth_per_s(history, obs.time, demand, span=2 * spec.startup_s)
    projected = demand + max(0.0, growth) * spec.startup_s
    wanted = math.ceil(projected / spec.replica_demand)
    patient = (
        spec.target_wait_s > 0
        and backlog_since is not None
        and obs.time - backlog_since < spec.target_wait_s
    )
    if patient:
        # The backlog is younger than the wait the user accepts: size for what runs, not for it.
        wanted = math.ceil(obs.reserved / spec.replica_demand)

    window_start = obs.time - spec.scale_down_stabilization_s
    window_peak = max([s.wanted for s in history if s.time > window_start] + [wanted])
    floor = running_floor(obs.reserved, obs.waiting, spec.concurrency)

    if wanted > obs.replicas:
        desired, reason = wanted, Reason.SCALE_UP
    elif window_peak < obs.replicas:
        desired, reason = window_peak, Reason.SCALE_DOWN
        if floor > desired:
            desired, reason = min(floor, obs.replicas), Reason.RUNNING_TASKS
    elif wanted < obs.replicas:
        desired, reason = obs.replicas, Reason.STABILIZING
    else:
        desired, reason = obs.replicas, Reason.STEADY

    bounded = max(spec.min_replicas, min(spec.max_replicas, desired))
    if bounded != desired:
        desired, reason = bounded, Reason.BOUNDS if bounded != obs.replicas else Reason.STEADY
    if desired < obs.replicas and desired < floor:
        desired, reason = min(floor, obs.replicas), Reason.RUNNING_TASKS

    keep_after = obs.time - max(spec.scale_down_stabilization_s, 2 * spec.startup_s)
    sample = Sample(obs.time, demand, wanted, backlog_since)
    kept = tuple(s for s in history if s.time > keep_after) + (sample,)
    return Decision(desired=desired, reason=reason, demand=demand, history=kept)


