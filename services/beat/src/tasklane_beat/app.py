"""Beat's Celery app: the shared configuration plus the schedule and its Redis lock."""

from __future__ import annotations

from celery import Celery

from tasklane_beat.schedule import celery_beat_schedule, effective_schedule
from tasklane_beat.scheduler import CONF_KEY, OutageTolerantScheduler
from tasklane_contract.celery_config import create_celery_app
from tasklane_contract.redis_clients import redis_client
from tasklane_contract.settings import Settings

# Beat wakes at least this often; the lock holder renews its lock on every wake-up. While Redis
# is away, it is also the longest wait between two attempts to reach it.
MAX_LOOP_INTERVAL_S = 5
# A beat that dies holding the lock blocks the others for at most this long.
LOCK_TIMEOUT_S = 25
# A Redis call of beat's that takes longer fails, and the tick waits and retries: a tick never
# hangs on a dead connection, so a stale heartbeat file means a stuck beat.
REDIS_TIMEOUT_S = 5


def create_beat_app(settings: Settings) -> Celery:
    app = create_celery_app(settings, main="tasklane_beat")
    app.conf.update(
        beat_schedule=celery_beat_schedule(effective_schedule(settings.beat_schedule)),
        beat_scheduler=OutageTolerantScheduler,
        beat_max_loop_interval=MAX_LOOP_INTERVAL_S,
        redbeat_key_prefix="tasklane:beat",
        redbeat_lock_timeout=LOCK_TIMEOUT_S,
        # Only shown in beat's banner: redbeat's client is the one set below.
        redbeat_redis_url=settings.redis_display,
        redbeat_redis_options={},
    )
    # redbeat's client, made by the contract like every other: Redis itself, or the master the
    # sentinels name (asked again at each connection). redbeat uses a client already on the
    # app instead of making its own.
    app.redbeat_redis = redis_client(
        settings,
        decode_responses=True,  # what redbeat's own client would use
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
    )
    if settings.beat_heartbeat_file is not None:
        app.conf[CONF_KEY] = str(settings.beat_heartbeat_file)
    return app
