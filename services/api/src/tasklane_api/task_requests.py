"""What `POST /v1/tasks/{name}` and `GET /v1/tasks/{id}` do, apart from any web framework.

Both the FastAPI routes (which document them in the OpenAPI schema) and the hot-path ASGI app
(tasklane_api.hot_routes, which serves them) call these, so every check runs the same way on
either. A refusal is an HTTPException, which each caller turns into the same `{"detail": ...}`
answer."""

from __future__ import annotations

import re
import time

from fastapi import HTTPException, Request, status

from tasklane_api.arguments import InvalidArguments, parse_arguments
from tasklane_api.body import BodyNotReceived, BodyTooLarge, read_body
from tasklane_api.dependencies import Services
from tasklane_api.rate_limit import client_identity
from tasklane_api.redis_health import state_of
from tasklane_api.replication import NotReplicated
from tasklane_api.schemas import TaskAccepted, TaskStatus
from tasklane_api.status import status_of
from tasklane_api.submission import SubmissionLost, submit
from tasklane_api.task_store import IdempotencyConflict
from tasklane_api.unavailable import BROKER_UNAVAILABLE
from tasklane_contract.catalog import get_spec
from tasklane_contract.spec import TaskSpec

TASK_NAME_MAX_LENGTH = 100
TASK_ID_MAX_LENGTH = 64
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces


async def submit_task_request(
    services: Services, name: str, request: Request, idempotency_key: str | None
) -> tuple[TaskAccepted, dict[str, str]]:
    """The accepted task and the response headers to send with it (`Location`, and
    `Idempotent-Replayed` when an earlier submission with the same key is returned)."""
    spec = get_spec(name)
    if spec is None:
        services.metrics.rejected.labels("unknown", "unknown_task").inc()
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task type named {name!r}")
    try:
        return await _submit_known_task(services, spec, request, idempotency_key)
    except BROKER_UNAVAILABLE as exc:  # answered 503 by the caller's handler
        services.metrics.rejected.labels(name, state_of(exc).rejection_reason).inc()
        raise


async def _submit_known_task(
    services: Services, spec: TaskSpec, request: Request, idempotency_key: str | None
) -> tuple[TaskAccepted, dict[str, str]]:
    metrics, rate_limiter, name = services.metrics, services.rate_limiter, spec.name
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
    except BodyNotReceived as exc:
        # Nobody reads this answer (the connection is gone); it is counted, not logged.
        metrics.rejected.labels(name, "body_not_received").inc()
        raise HTTPException(status.HTTP_408_REQUEST_TIMEOUT, str(exc)) from None
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
    except NotReplicated as exc:
        # Queued on the master, but a failover could still lose it: not accepted. The same
        # Idempotency-Key on the retry returns this task instead of queueing a second.
        metrics.rejected.labels(name, "not_replicated").inc()
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"not accepted: {exc}; retry (with an Idempotency-Key, the retry cannot queue it "
            "twice)",
            headers={"Retry-After": str(services.settings.retry_after_s)},
        ) from None
    services.redis_health.answered(wrote=True)
    headers = {"Location": f"/v1/tasks/{submission.id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    else:
        metrics.submitted.labels(spec.name, spec.queue).inc()
    accepted = TaskAccepted(
        id=submission.id,
        name=submission.name,
        queue=submission.queue,
        status="PENDING",
        submitted_at=submission.submitted_at,
    )
    return accepted, headers


async def task_status_request(services: Services, task_id: str) -> TaskStatus:
    submission, meta, requeued = await services.store.load(task_id)
    services.redis_health.answered(wrote=False)
    found = status_of(task_id, submission, meta, requeued)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task with id {task_id!r}")
    return found
