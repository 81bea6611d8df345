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
    if idempotency_key is not None:
        first_id = await store.claim_idempotency_key(
            spec.name, idempotency_key, fingerprint(arguments), submission.id
        )
        if first_id is not None:
            first = (await store.load(first_id)).submission
            if first is None:
                raise SubmissionLost(first_id)
            return first, True
    kwargs = arguments.model_dump(mode="json")
    message = messages.task(submission.id, spec.name, kwargs, spec.queue)
    event = messages.sent_event(submission.id, spec.name, kwargs, spec.queue)
    try:
        await store.accept(submission, message, event)
    except BaseException:
        if idempotency_key is not None:  # nothing was queued: the key is free again
            await store.release_idempotency_key(spec.name, idempotency_key)
        raise
    return submission, False
