from __future__ import annotations

from datetime import timedelta

import pytest
from celery.schedules import crontab

from tasklane_beat.app import create_beat_app
from tasklane_beat.schedule import (
    DEFAULT_SCHEDULE,
    ScheduledTask,
    ScheduleError,
    celery_beat_schedule,
    effective_schedule,
)
from tasklane_contract.settings import Settings


def test_defaults_apply_without_overrides() -> None:
    assert effective_schedule({}) == DEFAULT_SCHEDULE


def test_override_changes_timing_and_null_switches_off() -> None:
    assert (
        effective_schedule({"cleanup-submitted-index": 30})["cleanup-submitted-index"].every == 30
    )
    assert effective_schedule({"cleanup-submitted-index": None}) == {}


def test_unknown_entry_is_an_error_not_ignored() -> None:
    with pytest.raises(ScheduleError, match="unknown entries"):
        effective_schedule({"cleanup-submited-index": 30})


def test_celery_schedule_routes_each_entry_to_its_task_queue() -> None:
    schedule = celery_beat_schedule(
        {
            "a": ScheduledTask("maintenance.cleanup", 90),
            "b": ScheduledTask("maintenance.cleanup", "0 3 * * 1"),
        }
    )
    assert schedule["a"]["schedule"] == timedelta(seconds=90)
    assert isinstance(schedule["b"]["schedule"], crontab)
    assert schedule["a"]["options"]["queue"] == "maintenance"


@pytest.mark.parametrize("every", [0, -5, "* * *", "99 * * * *"])
def test_bad_timings_are_refused(every: float | str) -> None:
    with pytest.raises(ScheduleError):
        celery_beat_schedule({"a": ScheduledTask("maintenance.cleanup", every)})


def test_task_must_be_in_the_catalog() -> None:
    with pytest.raises(ScheduleError, match="catalog"):
        celery_beat_schedule({"a": ScheduledTask("no.such.task", 10)})


def test_beat_shows_where_redis_is_without_any_password() -> None:
    settings = Settings(
        redis_url="redis://any/0",
        redis_password="s3cret",
        redis_sentinels="s0:26379,s1:26379",
        redis_master_name="tasklane",
    )
    app = create_beat_app(settings)
    banner_url = app.conf.redbeat_redis_url
    assert "s3cret" not in banner_url and "s0:26379,s1:26379" in banner_url
    # redbeat is handed the contract's client (following the master), not left to make its own.
    assert app.redbeat_redis.connection_pool.service_name == "tasklane"
    app.close()
