"""The same policy driving worker processes on one machine (`TASKLANE_AUTOSCALE=1 make run`).

The local stack runner owns the processes; this class only decides and calls back through
`WorkerProcesses`. As in the operator, a scale-down stops the workers that run nothing first:
which those are is asked of Celery (`inspect active`) only when a scale-down is on the table,
and the policy decides again knowing how many there are. An answer up to `ANSWER_REUSE_S` old
may hold a scale-down; one that goes ahead asks again.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import redis
from kombu.exceptions import OperationalError

from tasklane_autoscaler.observe import read_queues
from tasklane_autoscaler.policy import Decision, Observation, PolicyState, ScalingSpec, decide
from tasklane_autoscaler.task_ages import finished_since
from tasklane_autoscaler.worker_load import ANSWER_REUSE_S, LastAnswer

logger = logging.getLogger(__name__)


class WorkerProcesses(Protocol):
    """The worker processes of the local stack, by name (a name is its Celery node name up to
    the `@`), oldest first."""

    def names(self) -> list[str]: ...

    def start(self) -> None:
        """Start one more worker."""

    def stop(self, name: str) -> None:
        """Ask one worker to stop (SIGTERM: it finishes what it runs within its shutdown timeout
        and gives the rest back to their queue)."""


def running_by_name(names: Sequence[str], running_by_node: Mapping[str, int]) -> dict[str, int]:
    """Running tasks per local worker from Celery's answer per node (`worker1@host`). A worker
    that did not answer counts as running nothing: it is still starting, or stuck."""
    counts = dict.fromkeys(names, 0)
    for node, running in running_by_node.items():
        name = node.split("@", 1)[0]
        if name in counts:
            counts[name] += running
    return counts


def stopping_order(names: Sequence[str], running: Mapping[str, int]) -> list[str]:
    """Which workers a scale-down stops first: the fewest running tasks first, and among
    equals the newest (the likeliest to be still starting)."""
    newest_first = list(reversed(names))
    return sorted(newest_first, key=lambda name: running.get(name, 0))


class LocalScaler:
    def __init__(
        self,
        client: redis.Redis,
        queues: Sequence[str],
        spec: ScalingSpec,
        workers: WorkerProcesses,
        running_by_node: Callable[[], Mapping[str, int]] | None = None,
        poll_interval_s: float = 2.0,
    ) -> None:
        """`running_by_node` answers how many tasks each Celery node runs (blocking); without
        it the policy does not know which workers are idle and the newest worker stops first."""
        self.client = client
        self.queues = tuple(queues)
        self.spec = spec
        self.workers = workers
        self.running_by_node = running_by_node
        self.poll_interval_s = poll_interval_s
        self.state = PolicyState()
        self.last_answer = LastAnswer()
        self.reserved_tags: frozenset[str] | None = None  # at the last poll

    def step(self, now: float | None = None) -> Decision:
        """Read the backlog once, decide, and start or stop workers to match."""
        now = time.monotonic() if now is None else now
        reading = read_queues(self.client, self.queues)
        names = self.workers.names()
        current = len(names)
        observation = Observation(
            time=now,
            waiting=reading.waiting,
            reserved=reading.reserved,
            replicas=current,
            running_mean_age_s=reading.running_mean_age_s,
            finished_of_reserved=finished_since(self.reserved_tags, reading.reserved_tags),
        )
        self.reserved_tags = reading.reserved_tags
        decision = decide(observation, self.spec, self.state)
        running: dict[str, int] = {}
        if decision.desired < current and self.running_by_node is not None:
            # As in the operator: a recent answer may hold the scale-down (long tasks hold it
            # poll after poll), one that goes ahead is decided on a fresh answer.
            running, asked_now = self._running(names, now, ANSWER_REUSE_S)
            decision = self._decide_knowing_idle(observation, running)
            if decision.desired < current and not asked_now:
                running, _asked_now = self._running(names, now, 0.0)
                decision = self._decide_knowing_idle(observation, running)
        self.state = decision.state
        for _ in range(decision.desired - current):
            self.workers.start()
        for name in stopping_order(names, running)[: max(0, current - decision.desired)]:
            self.workers.stop(name)
        if decision.desired != current:
            logger.info(
                "workers %d -> %d (%s: %d waiting, %d reserved)",
                current,
                decision.desired,
                decision.reason.value,
                reading.waiting,
                reading.reserved,
            )
        return decision

    def _running(
        self, names: Sequence[str], now: float, max_age_s: float
    ) -> tuple[dict[str, int], bool]:
        """Running tasks per worker: Celery's last answer if younger than `max_age_s`, else a
        new one; and whether it was asked for now."""
        assert self.running_by_node is not None
        answer = self.last_answer.within(now, max_age_s)
        asked_now = answer is None
        if answer is None:
            answer = dict(self.running_by_node())
            self.last_answer.remember(now, answer)
        return running_by_name(names, answer), asked_now

    def _decide_knowing_idle(
        self, observation: Observation, running: Mapping[str, int]
    ) -> Decision:
        idle = sum(1 for count in running.values() if count == 0)
        knowing = dataclasses.replace(observation, idle_replicas=idle)
        return decide(knowing, self.spec, self.state)

    def run(self, stop: threading.Event) -> None:
        """Step every poll interval until `stop` is set; a broker hiccup skips one step (and a
        scale-down that could not learn which workers are idle waits for the next)."""
        while not stop.is_set():
            try:
                self.step()
            except (redis.RedisError, OperationalError) as error:
                logger.warning("autoscaler could not read the broker: %s", error)
            stop.wait(self.poll_interval_s)

    def start_in_thread(self) -> tuple[threading.Thread, threading.Event]:
        """Run in a daemon thread; set the returned event to stop it."""
        stop = threading.Event()
        thread = threading.Thread(target=self.run, args=(stop,), name="autoscaler", daemon=True)
        thread.start()
        return thread, stop
