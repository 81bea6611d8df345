"""Response bodies of the /v1 API (documented in its OpenAPI schema)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class TaskError(BaseModel):
    type: str = Field(description="Exception type, e.g. InvalidTaskArguments, RetriesExhausted.")
    message: str


class TaskAccepted(BaseModel):
    id: str
    name: str
    queue: str
    status: str = Field(description="PENDING on acceptance.")
    submitted_at: float = Field(description="Unix time the API accepted the task.")


class Requeued(BaseModel):
    reason: str = Field(
        description="`reclaimed`: its worker stopped renewing its lease (killed, frozen or "
        "cut off from Redis); `shutdown`: its worker was stopped and the task outlasted the "
        "shutdown timeout; `interrupted`: the process running it died, or its worker lost "
        "its connection to Redis."
    )
    at: float = Field(description="Unix time (Redis' clock) it went back to its queue.")
    times: int = Field(description="How many times it went back.")


class TaskStatus(BaseModel):
    id: str
    name: str
    queue: str
    status: str = Field(
        description="PENDING, STARTED, PROGRESS, RETRY, SUCCESS, FAILURE or REVOKED."
    )
    result: Any = Field(None, description="The task's result model, once SUCCESS.")
    error: TaskError | None = Field(None, description="Why the task failed or is retrying.")
    progress: float | None = Field(None, description="0-100 for tasks that report progress.")
    progress_message: str | None = None
    retries: int = 0
    submitted_at: float | None = Field(
        description="Unix time the API accepted the task; null for a task another producer "
        "sent straight to a queue."
    )
    finished_at: str | None = Field(None, description="ISO 8601 time the task finished.")
    requeued: Requeued | None = Field(
        None,
        description="Set once a worker gave the task back to its queue before it finished; "
        "the task then waits (PENDING) and runs again.",
    )


class TaskList(BaseModel):
    tasks: list[TaskStatus]


class TaskType(BaseModel):
    name: str
    queue: str
    description: str
    reports_progress: bool
    periodic: bool
    options: dict[str, float]
    args_schema: dict[str, Any]
    result_schema: dict[str, Any]


class TaskTypes(BaseModel):
    task_types: list[TaskType]


class QueueBacklog(BaseModel):
    name: str
    waiting: int = Field(description="Messages not yet taken by a worker, all priorities.")
    reserved: int = Field(description="Messages taken by a worker and not yet acknowledged.")
    total: int


class Queues(BaseModel):
    queues: list[QueueBacklog]


class Problem(BaseModel):
    detail: Any
