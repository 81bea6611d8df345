"""The API's decisions as plain functions: argument parsing and status mapping."""

from __future__ import annotations

import pytest

from tasklane_api.arguments import InvalidArguments, fingerprint, parse_arguments
from tasklane_api.status import status_of, task_status
from tasklane_contract.catalog import CATALOG
from tasklane_contract.records import Submission

SUBMISSION = Submission(id="t1", name="report.generate", queue="reports", submitted_at=1.0)


def test_fingerprint_ignores_spacing_and_key_order() -> None:
    spec = CATALOG["email.send"]
    a = parse_arguments(spec, b'{"to":"a@b.io","subject":"s","body":"b"}')
    b = parse_arguments(spec, b'{ "body": "b", "subject": "s", "to": "a@b.io" }')
    c = parse_arguments(spec, b'{"to":"a@b.io","subject":"other","body":"b"}')
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)


def test_errors_point_into_the_body() -> None:
    with pytest.raises(InvalidArguments) as caught:
        parse_arguments(CATALOG["text.process"], b'{"data": 1}')
    assert caught.value.errors[0]["loc"] == ["body", "data"]


def test_no_meta_yet_is_pending() -> None:
    status = task_status(SUBMISSION, None)
    assert (status.status, status.progress, status.result) == ("PENDING", None, None)


def test_progress_meta() -> None:
    meta = {"status": "PROGRESS", "result": {"progress": 42.5, "message": "25/60 rows"}}
    status = task_status(SUBMISSION, meta)
    assert (status.status, status.progress, status.progress_message) == (
        "PROGRESS",
        42.5,
        "25/60 rows",
    )
    assert status.result is None


def test_success_meta() -> None:
    meta = {"status": "SUCCESS", "result": {"rows": 1}, "date_done": "2026-01-01T00:00:00"}
    status = task_status(SUBMISSION, meta)
    assert (status.result, status.progress, status.finished_at) == (
        {"rows": 1},
        100.0,
        "2026-01-01T00:00:00",
    )


def test_failure_meta_becomes_a_typed_error() -> None:
    meta = {
        "status": "FAILURE",
        "result": {"exc_type": "RetriesExhausted", "exc_message": ["gave up"], "exc_module": "x"},
        "retries": 3,
        "date_done": "2026-01-01T00:00:00",
    }
    status = task_status(SUBMISSION, meta)
    assert status.error is not None
    assert (status.error.type, status.error.message, status.retries) == (
        "RetriesExhausted",
        "gave up",
        3,
    )
    assert status.result is None


def test_a_task_given_back_is_waiting_again_and_says_why() -> None:
    marker = {"reason": "reclaimed", "at": 1700000000.5, "times": 1}
    waiting = task_status(SUBMISSION, None, marker)
    assert waiting.status == "PENDING"
    assert waiting.requeued is not None
    assert (waiting.requeued.reason, waiting.requeued.times) == ("reclaimed", 1)
    # The marker stays once the task runs again; an unreadable one is left out.
    running = task_status(SUBMISSION, {"status": "STARTED", "result": {}}, marker)
    assert running.status == "STARTED"
    assert running.requeued == waiting.requeued
    assert task_status(SUBMISSION, None, {"reason": "reclaimed"}).requeued is None


def test_a_task_known_only_by_its_result_is_read_from_it() -> None:
    meta = {
        "status": "SUCCESS",
        "result": {"processed_data": "X"},
        "name": "text.process",
        "queue": "default",
        "date_done": "2026-01-01T00:00:00",
    }
    status = status_of("foreign-1", None, meta)
    assert status is not None
    assert (status.id, status.name, status.queue) == ("foreign-1", "text.process", "default")
    assert (status.status, status.result, status.submitted_at) == ("SUCCESS", meta["result"], None)
    # Without result_extended the meta names neither.
    bare = status_of("foreign-2", None, {"status": "STARTED"})
    assert bare is not None and (bare.name, bare.queue) == ("unknown", "unknown")
    assert status_of("nobody", None, None) is None
    assert status_of("t1", SUBMISSION, meta) == task_status(SUBMISSION, meta)
