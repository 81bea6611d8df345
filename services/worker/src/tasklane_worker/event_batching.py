"""Task events sent in batches a few times a second instead of once per turn of the loop.

Celery's worker buffers task events (received, started, succeeded, ...) and publishes the buffer
as one `task.multi` message, but it flushes on every turn of its event loop: with short tasks
that is a Redis round trip for every one or two events, made by the one consumer process that
also fetches, hands out and acknowledges every task. Flushing at most every
FLUSH_INTERVAL_S (or when Celery's buffer limit is reached) sends the same events in the same
order, in fewer messages; celery-exporter reads a `task.multi` message as its events one by
one, so its counters and histograms do not change, they are only up to FLUSH_INTERVAL_S later.
"""

from __future__ import annotations

from typing import Any

from celery import bootsteps

FLUSH_INTERVAL_S = 0.1


class BatchedTaskEvents(bootsteps.StartStopStep):  # type: ignore[misc]
    """Consumer step: take over when the event dispatcher's buffer is flushed."""

    requires = ("celery.worker.consumer.events:Events",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.dispatcher: Any = None
        self.pending: Any = None

    def start(self, parent: Any) -> None:
        dispatcher = parent.event_dispatcher
        # Only the event loop (prefork and threads pools) buffers events at all.
        if dispatcher is None or parent.hub is None or dispatcher.on_send_buffered is None:
            return
        self.dispatcher = dispatcher
        timer = parent.timer

        def flush() -> None:
            self.pending = None
            dispatcher.flush()

        def schedule_flush() -> None:
            if self.pending is None:
                self.pending = timer.call_after(FLUSH_INTERVAL_S, flush)

        dispatcher.on_send_buffered = schedule_flush

    def stop(self, parent: Any) -> None:
        # Send what is buffered before the dispatcher is closed (shutdown or reconnect).
        if self.pending is not None:
            self.pending.cancel()
            self.pending = None
        if self.dispatcher is not None:
            self.dispatcher.flush()
            self.dispatcher = None

    def shutdown(self, parent: Any) -> None:
        self.stop(parent)
