"""What the contract says about one task: its name, queue, models and default options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class TaskOptions:
    """Defaults the worker applies to the Celery task; one place to read a task's limits."""

    soft_time_limit_s: float
    time_limit_s: float
    max_retries: int = 0
    retry_backoff_s: int = 1  # first retry waits up to this, then doubles
    retry_backoff_max_s: int = 60
    retry_jitter: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.soft_time_limit_s < self.time_limit_s:
            raise ValueError("need 0 < soft_time_limit_s < time_limit_s")


@dataclass(frozen=True)
class TaskSpec:
    """One entry of the catalog. `name` is what producers send; `queue` is where it goes."""

    name: str
    queue: str
    args_model: type[BaseModel]
    result_model: type[BaseModel]
    description: str
    options: TaskOptions
    reports_progress: bool = False
    # Every starter task is safe to run twice, which is what makes acks_late correct for it.
    idempotent: bool = True
    periodic: bool = False
    tags: tuple[str, ...] = field(default=())

    def catalog_entry(self) -> dict[str, Any]:
        """The public description served by `GET /v1/task-types`."""
        return {
            "name": self.name,
            "queue": self.queue,
            "description": self.description,
            "reports_progress": self.reports_progress,
            "periodic": self.periodic,
            "options": {
                "max_retries": self.options.max_retries,
                "soft_time_limit_s": self.options.soft_time_limit_s,
                "time_limit_s": self.options.time_limit_s,
            },
            "args_schema": self.args_model.model_json_schema(),
            "result_schema": self.result_model.model_json_schema(),
        }
