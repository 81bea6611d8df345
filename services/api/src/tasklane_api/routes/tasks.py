"""/v1/tasks: submit a task by name, read its status, revoke it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response, status

from tasklane_api.dependencies import ServicesDep
from tasklane_api.schemas import Problem, TaskAccepted, TaskList, TaskStatus
from tasklane_api.status import FINISHED_STATES, status_of, task_status
from tasklane_api.task_requests import (
    TASK_ID_MAX_LENGTH,
    TASK_NAME_MAX_LENGTH,
    submit_task_request,
    task_status_request,
)

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])

UNKNOWN = {"model": Problem, "description": "No such task type or task id."}
BROKER_DOWN = {
    "model": Problem,
    "description": "Redis is unreachable, refuses the API's password, or is full (the detail "
    "says which); see Retry-After.",
}

TaskId = Annotated[
    str, Path(max_length=TASK_ID_MAX_LENGTH, description="Id returned on submission.")
]


# Documented once per task by tasklane_api.openapi, each with its own argument schema.
# Served by tasklane_api.hot_routes; this route documents it and answers what that leaves.
@router.post(
    "/{name}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TaskAccepted,
    include_in_schema=False,
)
async def submit_task(
    name: Annotated[str, Path(max_length=TASK_NAME_MAX_LENGTH)],
    request: Request,
    response: Response,
    services: ServicesDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> TaskAccepted:
    accepted, headers = await submit_task_request(services, name, request, idempotency_key)
    response.headers.update(headers)
    return accepted


@router.get("", response_model=TaskList, responses={503: BROKER_DOWN})
async def list_recent_tasks(
    services: ServicesDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> TaskList:
    """The most recently submitted tasks, newest first."""
    ids = await services.store.recent_ids(limit)
    loaded = await services.store.load_many(ids)
    tasks = [task_status(sub, meta, again) for sub, meta, again in loaded if sub is not None]
    return TaskList(tasks=tasks)


# Served by tasklane_api.hot_routes; this route documents it and answers what that leaves.
@router.get("/{task_id}", response_model=TaskStatus, responses={404: UNKNOWN, 503: BROKER_DOWN})
async def get_task(task_id: TaskId, services: ServicesDep) -> TaskStatus:
    return await task_status_request(services, task_id)


@router.delete(
    "/{task_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TaskStatus,
    responses={
        404: UNKNOWN,
        409: {"model": Problem, "description": "The task has already finished."},
        503: BROKER_DOWN,
    },
)
async def revoke_task(task_id: TaskId, services: ServicesDep) -> Any:
    """Revoke: a task not yet started never runs; a running one is terminated."""
    submission, meta, requeued = await services.store.load(task_id)
    current = status_of(task_id, submission, meta, requeued)
    if current is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task with id {task_id!r}")
    if current.status in FINISHED_STATES:
        raise HTTPException(status.HTTP_409_CONFLICT, f"task {task_id} is already {current.status}")
    await services.store.mark_revoked(task_id)
    await services.revoker.revoke(task_id)
    return current.model_copy(update={"status": "REVOKED"})
