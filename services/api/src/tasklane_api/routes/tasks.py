"""/v1/tasks: submit a task by name, read its status, revoke it."""

from __future__ import annotations

import re
import time
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response, status

from tasklane_api.arguments import InvalidArguments, parse_arguments
from tasklane_api.body import BodyTooLarge, read_body
from tasklane_api.dependencies import ServicesDep
from tasklane_api.rate_limit import client_identity
from tasklane_api.schemas import Problem, TaskAccepted, TaskList, TaskStatus
from tasklane_api.status import FINISHED_STATES, task_status
from tasklane_api.submission import SubmissionLost, submit
from tasklane_api.task_store import IdempotencyConflict
from tasklane_contract.catalog import get_spec

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])

IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces
UNKNOWN = {"model": Problem, "description": "No such task type or task id."}
BROKER_DOWN = {"model": Problem, "description": "Redis is unreachable; see Retry-After."}

TaskId = Annotated[str, Path(max_length=64, description="Id returned on submission.")]


# Documented once per task by tasklane_api.openapi, each with its own argument schema.
@router.post(
    "/{name}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TaskAccepted,
    include_in_schema=False,
)
async def submit_task(
    name: Annotated[str, Path(max_length=100)],
    request: Request,
    response: Response,
    services: ServicesDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> TaskAccepted:
    metrics, rate_limiter = services.metrics, services.rate_limiter
    spec = get_spec(name)
    if spec is None:
        metrics.rejected.labels("unknown", "unknown_task").inc()
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task type named {name!r}")
    retry_after = await rate_limiter.retry_after(client_identity(request), time.time())
    if retry_after is not None:
        metrics.rejected.labels(name, "rate_limited").inc()
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"over {rate_limiter.per_minute} submissions per minute; retry in {retry_after}s",
            headers={"Retry-After": str(retry_after)},
        )
    if idempotency_key is not None and not IDEMPOTENCY_KEY.match(idempotency_key):
        metrics.rejected.labels(name, "invalid_arguments").inc()
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                {
                    "loc": ["header", "Idempotency-Key"],
                    "msg": "1-255 printable ASCII characters",
                    "type": "string_pattern_mismatch",
                }
            ],
        )
    try:
        arguments = parse_arguments(
            spec, await read_body(request, services.settings.max_body_bytes)
        )
    except BodyTooLarge as exc:
        metrics.rejected.labels(name, "body_too_large").inc()
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from None
    except InvalidArguments as exc:
        metrics.rejected.labels(name, "invalid_arguments").inc()
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.errors) from None
    try:
        submission, replayed = await submit(
            services.store, services.messages, spec, arguments, idempotency_key
        )
    except IdempotencyConflict as exc:
        metrics.rejected.labels(name, "idempotency_conflict").inc()
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except SubmissionLost as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"Idempotency-Key refers to task {exc} which has expired"
        ) from None
    response.headers["Location"] = f"/v1/tasks/{submission.id}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    else:
        metrics.submitted.labels(spec.name, spec.queue).inc()
    return TaskAccepted(
        id=submission.id,
        name=submission.name,
        queue=submission.queue,
        status="PENDING",
        submitted_at=submission.submitted_at,
    )


@router.get("", response_model=TaskList, responses={503: BROKER_DOWN})
async def list_recent_tasks(
    services: ServicesDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> TaskList:
    """The most recently submitted tasks, newest first."""
    ids = await services.store.recent_ids(limit)
    loaded = await services.store.load_many(ids)
    tasks = [task_status(sub, meta) for sub, meta in loaded if sub is not None]
    return TaskList(tasks=tasks)


@router.get("/{task_id}", response_model=TaskStatus, responses={404: UNKNOWN, 503: BROKER_DOWN})
async def get_task(task_id: TaskId, services: ServicesDep) -> TaskStatus:
    submission, meta = await services.store.load(task_id)
    if submission is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task with id {task_id!r}")
    return task_status(submission, meta)


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
    submission, meta = await services.store.load(task_id)
    if submission is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task with id {task_id!r}")
    current = task_status(submission, meta)
    if current.status in FINISHED_STATES:
        raise HTTPException(status.HTTP_409_CONFLICT, f"task {task_id} is already {current.status}")
    await services.store.mark_revoked(task_id)
    await services.revoker.revoke(task_id)
    return current.model_copy(update={"status": "REVOKED"})
