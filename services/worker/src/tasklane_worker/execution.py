"""Running one contract task inside Celery: the checks every task gets, around the plain
implementation. Celery-facing code stays here so implementations stay plain functions."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from celery import Celery, Task
from celery.exceptions import Ignore
from pydantic import BaseModel, ValidationError

from tasklane_contract.errors import InvalidTaskArguments, ResultTooLarge
from tasklane_contract.leases import RENEWALS_PER_LEASE
from tasklane_contract.records import PROGRESS_STATE, revoked_key
from tasklane_contract.reservations import holds
from tasklane_contract.result_backend import (
    FORBIDDEN,
    KEPT_SUCCESS,
    NOT_HELD,
    delivered_under,
)
from tasklane_contract.settings import Settings
from tasklane_contract.spec import TaskSpec
from tasklane_worker.context import TaskContext
from tasklane_worker.errors import RetriesExhausted, TransientError
from tasklane_worker.registry import Implementation
from tasklane_worker.retry import retry_delay_s

log = logging.getLogger(__name__)


def describe_validation_error(error: ValidationError) -> str:
    """`field: message; field: message`, the form a person reading a failed task wants."""
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "arguments"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def parse_arguments(spec: TaskSpec, args: Sequence[Any], kwargs: Mapping[str, Any]) -> BaseModel:
    """Validate a message's arguments against the contract, whoever produced it."""
    if args:
        raise InvalidTaskArguments(
            f"invalid arguments for {spec.name}: tasklane tasks take keyword arguments only, "
            f"got {len(args)} positional"
        )
    try:
        return spec.args_model.model_validate(dict(kwargs))
    except ValidationError as exc:
        raise InvalidTaskArguments(
            f"invalid arguments for {spec.name}: {describe_validation_error(exc)}"
        ) from None


def run_task(
    task: Task,
    spec: TaskSpec,
    implementation: Implementation,
    settings: Settings,
    args: Any,
    kwargs: Any,
) -> Any:
    request = task.request
    started_at = time.monotonic()
    # STARTED is stored here instead of by Celery's task_track_started, in the same round trip
    # as the check for a revoke marker: a DELETE may have come before any worker that could
    # hear the revoke broadcast was up.
    started = {"pid": os.getpid(), "hostname": request.hostname}
    stored = task.backend.store_started_unless(
        request.id, started, request, forbidden=revoked_key(request.id)
    )
    if stored == FORBIDDEN:
        task.backend.mark_as_revoked(request.id, "revoked before it started", request=request)
        raise Ignore()
    if stored in (KEPT_SUCCESS, NOT_HELD):  # done already, or no longer this worker's
        raise Ignore()

    arguments = parse_arguments(spec, args, kwargs)

    def store_progress(percent: float, message: str | None) -> None:
        task.update_state(state=PROGRESS_STATE, meta={"progress": percent, "message": message})

    context = TaskContext(
        task_id=request.id,
        attempt=request.retries,
        store_progress=store_progress,
        redis=task.backend.client,
        settings=settings,
    )
    try:
        result = implementation(arguments, context)
    except TransientError as exc:
        attempts = request.retries + 1
        if request.retries >= spec.options.max_retries:
            raise RetriesExhausted(f"{spec.name} failed after {attempts} attempts: {exc}") from exc
        raise task.retry(exc=exc, countdown=retry_delay_s(spec.options, request.retries)) from exc
    if given_away(task, settings, time.monotonic() - started_at):
        raise Ignore()
    if not isinstance(result, spec.result_model):
        raise TypeError(
            f"{spec.name} returned {type(result).__name__}, not {spec.result_model.__name__}"
        )
    return bounded_result(spec, result, settings.max_result_bytes)


def given_away(task: Task, settings: Settings, ran_s: float) -> bool:
    """Whether the task's message was given to another worker while this run went on (its
    worker was frozen or cut off past its lease): then this run ends without a result and
    without a terminal event, and the run that holds the message now reports. Only a run
    about a lease long or longer can have lost its message, so shorter ones skip the check."""
    if ran_s < settings.worker_lease_s * (1 - 1 / RENEWALS_PER_LEASE):
        return False
    held = delivered_under(task.request)
    if held is None or holds(task.backend.client, *held):
        return False
    log.warning(
        "task %s was given to another worker while this one was frozen or cut off from "
        "Redis; its result from this run is dropped",
        task.request.id,
    )
    return True


def bounded_result(spec: TaskSpec, result: BaseModel, limit: int) -> Any:
    """The result as JSON-ready data, refused when its JSON is over `limit` bytes: a result
    lives in Redis (in memory) for TASKLANE_RESULT_EXPIRES_S."""
    size = len(result.model_dump_json())
    if size > limit:
        raise ResultTooLarge(
            f"{spec.name} returned {size} bytes of JSON, over the {limit} byte limit "
            "(TASKLANE_MAX_RESULT_BYTES); store large output elsewhere and return a reference"
        )
    return result.model_dump(mode="json")


def register_task(
    app: Celery, spec: TaskSpec, implementation: Implementation, settings: Settings
) -> Task:
    options = spec.options

    @app.task(  # type: ignore[untyped-decorator]
        name=spec.name,
        bind=True,
        typing=False,  # arguments are checked against the contract instead
        acks_late=spec.idempotent,
        soft_time_limit=options.soft_time_limit_s,
        time_limit=options.time_limit_s,
        max_retries=options.max_retries,
    )
    def contract_task(task: Task, *args: Any, **kwargs: Any) -> Any:
        return run_task(task, spec, implementation, settings, args, kwargs)

    return contract_task
