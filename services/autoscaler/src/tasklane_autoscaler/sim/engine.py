"""The event loop: tasks arrive, wait in one FIFO queue, run on replica slots; a controller
changes the replica count on its own clock.

What the model keeps from the real system:
- a replica is paid from the moment it is requested; it takes tasks `startup_s` later;
- a free slot takes the oldest waiting task, and the slot that has been free the longest is
  served first (Redis hands a message to the client that has been blocked on BRPOP longest);
- a removed replica takes no new task, finishes what it runs (warm shutdown) and is paid until
  its last task ends; a replica removed before it became ready costs only until its removal;
- which replicas go on a scale-down is the controller's choice: the ReplicaSet's own order
  (not ready first, then the most recently ready) or idle first (pod-deletion-cost).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from tasklane_autoscaler.sim.trace import Trace, generate_tasks


class RemovalOrder(Enum):
    REPLICASET = "replicaset"  # Kubernetes' default: not ready first, then the newest
    IDLE_FIRST = "idle-first"  # pod-deletion-cost set from the running task count


@dataclass(frozen=True)
class ClusterView:
    """What an autoscaler can observe at one instant."""

    time: float
    waiting: int  # every waiting task, whatever list it sits in
    waiting_base_list: int  # what `LLEN <queue>` returns: no priority lists, nothing reserved
    running: int  # reserved by a worker (prefetch is off, so reserved means running)
    running_mean_age_s: float  # how long the running tasks have run, on average
    running_on_leaving: int  # of `running`, on replicas being removed (warm shutdown)
    replicas: int  # requested and not being removed: the Deployment's spec.replicas
    ready: int  # of those, taking tasks
    idle: int  # of those, running no task (idle or not ready yet)
    # Of the tasks running at the previous view, those that have finished since (the delivery
    # tags that left `unacked` between two polls).
    finished_of_seen: int = 0


class Controller(Protocol):
    name: str
    removal_order: RemovalOrder

    def initial_replicas(self, trace: Trace) -> int: ...

    def first_tick(self) -> float | None:
        """Time of the first decision, or None for a controller that never scales."""

    def tick(self, view: ClusterView) -> tuple[int | None, float]:
        """The replica count to set (None: leave it) and the time of the next decision."""


@dataclass
class Replica:
    id: int
    requested_s: float
    ready_s: float
    running: int = 0
    removing: bool = False
    gone_s: float | None = None

    @property
    def active(self) -> bool:
        return not self.removing


@dataclass
class Outcome:
    waits: list[float]
    completed: int
    replica_seconds: float
    max_replicas: int
    scale_events: int
    replica_timeline: list[tuple[float, int]] = field(default_factory=list)


# Same-instant ordering: tasks finish and replicas get ready before new arrivals are placed,
# and a controller observes the state after everything else that happened at that instant.
_COMPLETE, _READY, _ARRIVE, _TICK = range(4)


class Simulation:
    def __init__(self, trace: Trace, controller: Controller) -> None:
        self.trace = trace
        self.controller = controller
        self.tasks = generate_tasks(trace)
        self.starts: list[float | None] = [None] * len(self.tasks)
        self.placement: list[int] = [-1] * len(self.tasks)  # replica each started task runs on
        self.queue: deque[int] = deque()
        self.replicas: list[Replica] = []
        self.free_slots: list[tuple[float, int, int]] = []  # (free since, seq, replica id)
        self.events: list[tuple[float, int, int, int]] = []  # (time, kind, seq, payload)
        self.seq = 0
        self.completed = 0
        self.running = 0
        self.running_start_sum = 0.0  # sum of the running tasks' start times, for their mean age
        self.last_view_s = -math.inf
        self.finished_of_seen = 0  # tasks running at the last view that have finished since
        self.scale_events = 0
        self.max_replicas = 0
        self.timeline: list[tuple[float, int]] = []

    # --- bookkeeping -------------------------------------------------------------------
    def _push(self, time: float, kind: int, payload: int) -> None:
        self.seq += 1
        heapq.heappush(self.events, (time, kind, self.seq, payload))

    def _active(self) -> list[Replica]:
        return [r for r in self.replicas if r.active]

    def _add_replica(self, now: float, ready_s: float) -> None:
        replica = Replica(id=len(self.replicas), requested_s=now, ready_s=ready_s)
        self.replicas.append(replica)
        self._push(ready_s, _READY, replica.id)

    def _free_slot(self, now: float, replica: Replica) -> None:
        self.seq += 1
        heapq.heappush(self.free_slots, (now, self.seq, replica.id))

    def _take_slot(self) -> Replica | None:
        while self.free_slots:
            _, _, replica_id = heapq.heappop(self.free_slots)
            replica = self.replicas[replica_id]
            if replica.active:
                return replica
        return None

    def _dispatch(self, now: float) -> None:
        while self.queue:
            replica = self._take_slot()
            if replica is None:
                return
            index = self.queue.popleft()
            self.starts[index] = now
            replica.running += 1
            self.running += 1
            self.running_start_sum += now
            self._push(now + self.tasks[index].duration_s, _COMPLETE, index)
            self.placement[index] = replica.id

    # --- scaling -----------------------------------------------------------------------
    def _removal_candidates(self, now: float) -> Iterator[Replica]:
        active = self._active()
        not_ready = sorted(
            (r for r in active if r.ready_s > now), key=lambda r: (-r.requested_s, -r.id)
        )
        ready = [r for r in active if r.ready_s <= now]
        if self.controller.removal_order is RemovalOrder.IDLE_FIRST:
            ready.sort(key=lambda r: (r.running, -r.ready_s, -r.id))
        else:
            ready.sort(key=lambda r: (-r.ready_s, -r.id))
        yield from not_ready
        yield from ready

    def _scale_to(self, now: float, target: int) -> None:
        target = max(self.trace.min_replicas, min(self.trace.max_replicas, target))
        current = len(self._active())
        if target == current:
            return
        self.scale_events += 1
        if target > current:
            for _ in range(target - current):
                self._add_replica(now, now + self.trace.startup_s)
        else:
            victims = self._removal_candidates(now)
            for _ in range(current - target):
                replica = next(victims)
                replica.removing = True
                if replica.running == 0:
                    replica.gone_s = now
        self.max_replicas = max(self.max_replicas, target)
        self.timeline.append((now, target))

    def view(self, now: float) -> ClusterView:
        active = self._active()
        waiting = len(self.queue)
        return ClusterView(
            time=now,
            waiting=waiting,
            waiting_base_list=waiting,  # the traces carry no priorities: all in the base list
            running=self.running,
            running_mean_age_s=(
                now - self.running_start_sum / self.running if self.running else 0.0
            ),
            replicas=len(active),
            ready=sum(1 for r in active if r.ready_s <= now),
            running_on_leaving=sum(r.running for r in self.replicas if r.removing and r.running),
            idle=sum(1 for r in active if r.running == 0),
            finished_of_seen=self.finished_of_seen,
        )

    # --- the loop ----------------------------------------------------------------------
    def run(self) -> Outcome:
        end = self.trace.duration_s
        for _ in range(self.controller.initial_replicas(self.trace)):
            self._add_replica(0.0, 0.0)  # the replicas that exist before the trace starts
        self.max_replicas = len(self.replicas)
        self.timeline.append((0.0, len(self.replicas)))
        for index, task in enumerate(self.tasks):
            self._push(task.arrival_s, _ARRIVE, index)
        first_tick = self.controller.first_tick()
        if first_tick is not None:
            self._push(first_tick, _TICK, 0)

        while self.events and self.events[0][0] <= end:
            now, kind, _, payload = heapq.heappop(self.events)
            if kind == _ARRIVE:
                self.queue.append(payload)
            elif kind == _COMPLETE:
                replica = self.replicas[self.placement[payload]]
                replica.running -= 1
                self.running -= 1
                started = self.starts[payload]
                assert started is not None
                self.running_start_sum -= started
                if self.running == 0:
                    self.running_start_sum = 0.0  # no rounding drift carried into the next burst
                self.completed += 1
                if started <= self.last_view_s:
                    self.finished_of_seen += 1
                if replica.active:
                    self._free_slot(now, replica)
                elif replica.running == 0:
                    replica.gone_s = now
            elif kind == _READY:
                replica = self.replicas[payload]
                if replica.active:
                    for _ in range(self.trace.concurrency):
                        self._free_slot(now, replica)
            else:
                view = self.view(now)
                self.last_view_s, self.finished_of_seen = now, 0
                target, next_tick = self.controller.tick(view)
                if target is not None:
                    self._scale_to(now, target)
                self._push(max(next_tick, now + 1e-9), _TICK, 0)
            self._dispatch(now)

        waits = [
            (start if start is not None else end) - task.arrival_s
            for task, start in zip(self.tasks, self.starts, strict=True)
        ]
        paid = sum(
            min(r.gone_s if r.gone_s is not None else end, end) - r.requested_s
            for r in self.replicas
        )
        return Outcome(
            waits=waits,
            completed=self.completed,
            replica_seconds=paid,
            max_replicas=self.max_replicas,
            scale_events=self.scale_events,
            replica_timeline=self.timeline,
        )


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]
