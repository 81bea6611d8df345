"""The same policy driving worker processes on one machine (`TASKLANE_AUTOSCALE=1 make run`).

The local stack runner owns the processes; this class only decides and calls back:
`count_workers()` says how many worker processes run, `start_worker()` starts one more and
`stop_worker()` asks one to stop with a warm shutdown (SIGTERM: Celery finishes what it runs).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

import redis

from tasklane_autoscaler.observe import read_queues
from tasklane_autoscaler.policy import Decision, Observation, PolicyState, ScalingSpec, decide

logger = logging.getLogger(__name__)


class LocalScaler:
    def __init__(
        self,
        client: redis.Redis,
        queues: Sequence[str],
        spec: ScalingSpec,
        count_workers: Callable[[], int],
        start_worker: Callable[[], None],
        stop_worker: Callable[[], None],
        poll_interval_s: float = 2.0,
    ) -> None:
        self.client = client
        self.queues = tuple(queues)
        self.spec = spec
        self.count_workers = count_workers
        self.start_worker = start_worker
        self.stop_worker = stop_worker
        self.poll_interval_s = poll_interval_s
        self.state = PolicyState()

    def step(self, now: float | None = None) -> Decision:
        """Read the backlog once, decide, and start or stop workers to match."""
        now = time.monotonic() if now is None else now
        reading = read_queues(self.client, self.queues)
        current = self.count_workers()
        observation = Observation(
            time=now,
            waiting=reading.waiting,
            reserved=reading.reserved,
            replicas=current,
            running_mean_age_s=reading.running_mean_age_s,
        )
        decision = decide(observation, self.spec, self.state)
        self.state = decision.state
        for _ in range(decision.desired - current):
            self.start_worker()
        for _ in range(current - decision.desired):
            self.stop_worker()
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

    def run(self, stop: threading.Event) -> None:
        """Step every poll interval until `stop` is set; a Redis hiccup skips one step."""
        while not stop.is_set():
            try:
                self.step()
            except redis.RedisError as error:
                logger.warning("autoscaler could not read the backlog: %s", error)
            stop.wait(self.poll_interval_s)

    def start_in_thread(self) -> tuple[threading.Thread, threading.Event]:
        """Run in a daemon thread; set the returned event to stop it."""
        stop = threading.Event()
        thread = threading.Thread(target=self.run, args=(stop,), name="autoscaler", daemon=True)
        thread.start()
        return thread, stop
