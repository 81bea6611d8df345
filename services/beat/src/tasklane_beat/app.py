"""Beat's Celery app: the shared configuration plus the schedule and its Redis lock."""

from __future__ import annotations

from celery import Celery

from tasklane_beat.schedule import celery_beat_schedule, effective_schedule
from tasklane_contract.celery_config import create_celery_app
from tasklane_contract.settings import Settings

# Beat wakes at least this often; the lock holder renews its lock on every wake-up.
MAX_LOOP_INTERVAL_S = 5
# A beat that dies holding the lock blocks the others for at most this long.
LOCK_TIMEOUT_S = 25


def create_beat_app(settings: Settings) -> Celery:
    app = create_celery_app(settings, main="tasklane_beat")
    app.conf.update(
        beat_schedule=celery_beat_schedule(effective_schedule(settings.beat_schedule)),
        beat_scheduler="redbeat.RedBeatScheduler",
        beat_max_loop_interval=MAX_LOOP_INTERVAL_S,
        redbeat_redis_url=settings.broker_url,
        redbeat_key_prefix="tasklane:beat",
        redbeat_lock_timeout=LOCK_TIMEOUT_S,
    )
    return app
