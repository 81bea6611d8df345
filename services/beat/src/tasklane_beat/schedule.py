"""The periodic schedule, defined here and nowhere else; TASKLANE_BEAT_SCHEDULE overrides it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from celery.schedules import crontab

from tasklane_contract.catalog import CATALOG
from tasklane_contract.settings import ScheduleOverride


@dataclass(frozen=True)
class ScheduledTask:
    task: str
    every: float | str  # seconds between runs, or a five-field crontab string


DEFAULT_SCHEDULE: dict[str, ScheduledTask] = {
    "cleanup-submitted-index": ScheduledTask(task="maintenance.cleanup", every=3600.0),
}


class ScheduleError(ValueError):
    pass


def parse_every(entry: str, every: float | str) -> timedelta | crontab:
    if isinstance(every, int | float):
        if every <= 0:
            raise ScheduleError(f"{entry}: interval must be positive seconds, got {every}")
        return timedelta(seconds=every)
    fields = every.split()
    if len(fields) != 5:
        raise ScheduleError(f"{entry}: {every!r} is not a five-field crontab expression")
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    try:
        return crontab(minute, hour, day_of_week, day_of_month, month_of_year)
    except ValueError as exc:
        raise ScheduleError(f"{entry}: {every!r} is not a valid crontab: {exc}") from None


def effective_schedule(
    overrides: Mapping[str, ScheduleOverride],
    defaults: Mapping[str, ScheduledTask] = DEFAULT_SCHEDULE,
) -> dict[str, ScheduledTask]:
    """The defaults with overrides applied: a number or crontab replaces an entry's timing,
    null switches it off. An override for an entry that does not exist is an error, so a
    typo cannot silently leave the default in place."""
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise ScheduleError(
            f"TASKLANE_BEAT_SCHEDULE names unknown entries {unknown}; known: {sorted(defaults)}"
        )
    schedule = {}
    for name, entry in defaults.items():
        if name not in overrides:
            schedule[name] = entry
        elif overrides[name] is not None:
            schedule[name] = ScheduledTask(task=entry.task, every=overrides[name])  # type: ignore[arg-type]
    return schedule


def celery_beat_schedule(schedule: Mapping[str, ScheduledTask]) -> dict[str, dict[str, Any]]:
    """Celery's `beat_schedule` for the entries, routed like any other submission."""
    result = {}
    for name, entry in schedule.items():
        spec = CATALOG.get(entry.task)
        if spec is None:
            raise ScheduleError(f"{name}: {entry.task!r} is not in the contract's catalog")
        result[name] = {
            "task": spec.name,
            "schedule": parse_every(name, entry.every),
            "kwargs": {},
            "options": {"queue": spec.queue, "routing_key": spec.queue},
        }
    return result
