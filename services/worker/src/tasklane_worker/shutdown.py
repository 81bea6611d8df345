"""SIGTERM hands tasks back: what Kubernetes, `podman stop` and `make run` send to stop a worker.

Celery's SIGTERM is a warm shutdown that waits for running tasks without limit, and its
`worker_soft_shutdown_timeout` applies only to a cold shutdown (SIGQUIT, or SIGTERM remapped by
REMAP_SIGTERM), which exits 1 and sleeps the whole timeout inside the signal handler, holding up
the event loop, so a task that finishes meanwhile is not acknowledged and runs again.

Here SIGTERM to the worker's main process starts Celery's warm shutdown (no new task is taken;
running tasks go on and are acknowledged as they finish) and arms a deadline
`TASKLANE_SHUTDOWN_TIMEOUT_S` later. At the deadline the processes still running a task are
terminated: Celery then rejects their messages with requeue (task_reject_on_worker_lost), and
the transport gives them back to the head of their queue at once, marked `shutdown` for the
API. The worker exits 0 as soon as nothing runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from typing import Any

from celery import bootsteps
from celery.worker import state

from tasklane_contract import leases

log = logging.getLogger(__name__)

POLL_S = 0.2  # how often the deadline looks for processes still running a task


def unfinished_pids(requests: Any, successful: Any) -> set[int]:
    """The pool processes running a task that neither finished nor was acknowledged."""
    pids = set()
    for request in requests:
        if request.acknowledged or request.id in successful:
            continue
        pid = request.worker_pid
        if pid:
            pids.add(pid)
    return pids


class ExpectedEndings(logging.Filter):
    """Celery and billiard log each task process ended at the deadline as an error, with a
    traceback, which reads like a fault; once the deadline ended some, those records are
    dropped (one warning per process says what happened instead)."""

    LOGGERS = ("celery.worker.request", "multiprocessing")

    def __init__(self) -> None:
        super().__init__()
        self.active = False

    def filter(self, record: logging.LogRecord) -> bool:
        return not (self.active and "signal 15 (SIGTERM)" in record.getMessage())


class HandBackOnStop(bootsteps.StartStopStep):  # type: ignore[misc]
    """Worker step: install the SIGTERM handler once Celery has installed its own."""

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        # TASKLANE_SHUTDOWN_TIMEOUT_S, which celery_config also gives Celery's cold shutdown.
        self.timeout_s = float(worker.app.conf.worker_soft_shutdown_timeout)
        self.deadline: threading.Thread | None = None
        self.expected = ExpectedEndings()
        for name in ExpectedEndings.LOGGERS:
            logging.getLogger(name).addFilter(self.expected)

    def start(self, worker: Any) -> None:
        celery_handler = signal.getsignal(signal.SIGTERM)

        def on_sigterm(signum: int, frame: Any) -> None:
            if os.getpid() != main_pid or self.deadline is not None:
                return  # a pool process, or told already
            keeper = leases.current()
            if keeper is not None:
                keeper.stopping = True
            self.deadline = threading.Thread(
                target=self._hand_back_at_deadline, name="tasklane-shutdown", daemon=True
            )
            self.deadline.start()
            if callable(celery_handler):
                celery_handler(signum, frame)  # Celery's warm shutdown

        main_pid = os.getpid()
        signal.signal(signal.SIGTERM, on_sigterm)

    def _hand_back_at_deadline(self) -> None:
        log.warning(
            "stopping: no new tasks; running tasks have %.0fs to finish, then go back to "
            "their queue",
            self.timeout_s,
        )
        time.sleep(self.timeout_s)
        terminated: set[int] = set()
        while True:
            try:
                pids = unfinished_pids(tuple(state.active_requests), state.successful_requests)
            except RuntimeError:  # the set changed while it was copied
                continue
            for pid in pids - terminated:
                self.expected.active = True
                log.warning(
                    "shutdown timeout reached: ending the task in process %d; it goes back to "
                    "its queue",
                    pid,
                )
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                terminated.add(pid)
            time.sleep(POLL_S)
