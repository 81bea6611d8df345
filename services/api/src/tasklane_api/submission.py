"""Accepting a validated task: record it, honour its idempotency key, publish it."""

from __future__ import annotations

import time
import uuid

from pydantic import BaseModel

from tasklane_api.arguments import fingerprint
from tasklane_api.celery_message import MessageBuilder
from tasklane_api.task_store import TaskStore
from tasklane_contract.records import Submission
from tasklane_contract.spec import TaskSpec


class SubmissionLost(Exception):
    """An idempotency key points at a task whose record has expired."""


async def submit(
    store: TaskStore,
    messages: MessageBuilder,
    spec: TaskSpec,
    arguments: BaseModel,
    idempotency_key: str | None,
) -> tuple[Submission, bool]:
    """Returns the submission and whether it is a replay of an earlier one with the same key."""
    submission = Submission(
        id=str(uuid.uuid4()), name=spec.name, queue=spec.queue, submitted_at=time.time()
    )
    kwargs = arguments.model_dump(mode="json")
    message = messages.task(submission.id, spec.name, kwargs, spec.queue)
    event = messages.sent_event(submission.id, spec.name, kwargs, spec.queue)
    idempotency = None
    if idempotency_key is not None:
        idempotency = (spec.name, idempotency_key, fingerprint(arguments))
    first_id = await store.accept(submission, message, event, idempotency)
    if first_id is None:
        return submission, False
    first = (await store.load(first_id)).submission
    if first is None:
        raise SubmissionLost(first_id)
    return first, True
