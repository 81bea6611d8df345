from __future__ import annotations

import random

import pytest
from pydantic import BaseModel

from tasklane_contract.catalog import CATALOG
from tasklane_contract.errors import InvalidTaskArguments, ResultTooLarge
from tasklane_contract.settings import Settings
from tasklane_contract.spec import TaskOptions
from tasklane_worker.app import ContractMismatch, create_worker_app
from tasklane_worker.execution import bounded_result, parse_arguments
from tasklane_worker.registry import IMPLEMENTATIONS, consistency_problems
from tasklane_worker.retry import retry_delay_s


def test_every_contract_task_is_implemented() -> None:
    assert consistency_problems(CATALOG, IMPLEMENTATIONS) == []


def test_mismatches_are_named() -> None:
    implementations = dict(IMPLEMENTATIONS)
    del implementations["text.process"]
    implementations["ghost.task"] = IMPLEMENTATIONS["demo.sleep"]
    problems = consistency_problems(CATALOG, implementations)
    assert problems == [
        "contract task 'text.process' has no implementation in tasklane_worker",
        "implementation 'ghost.task' has no entry in the contract's catalog",
    ]


def test_worker_refuses_to_start_on_a_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(IMPLEMENTATIONS, "ghost.task", IMPLEMENTATIONS["demo.sleep"])
    with pytest.raises(ContractMismatch, match=r"ghost\.task"):
        create_worker_app(Settings())
    monkeypatch.delitem(IMPLEMENTATIONS, "ghost.task")
    monkeypatch.delitem(IMPLEMENTATIONS, "text.process")
    with pytest.raises(ContractMismatch, match=r"text\.process"):
        create_worker_app(Settings())


def test_worker_app_registers_every_contract_task() -> None:
    app = create_worker_app(Settings())
    for name, spec in CATALOG.items():
        task = app.tasks[name]
        assert task.acks_late is True
        assert task.time_limit == spec.options.time_limit_s
        assert task.max_retries == spec.options.max_retries


def test_arguments_are_validated_with_a_readable_message() -> None:
    spec = CATALOG["email.send"]
    parsed = parse_arguments(spec, (), {"to": "a@b.io", "subject": "s", "body": "b"})
    assert isinstance(parsed, BaseModel)
    with pytest.raises(
        InvalidTaskArguments, match=r"to: String should match pattern.*subject: Field required"
    ):
        parse_arguments(spec, (), {"to": "nope", "body": "b"})
    with pytest.raises(InvalidTaskArguments, match="keyword arguments only"):
        parse_arguments(spec, ("a@b.io",), {})


def test_retry_delay_grows_exponentially_within_the_cap() -> None:
    options = TaskOptions(
        soft_time_limit_s=1,
        time_limit_s=2,
        retry_backoff_s=2,
        retry_backoff_max_s=10,
        retry_jitter=False,
    )
    assert [retry_delay_s(options, n) for n in range(5)] == [2, 4, 8, 10, 10]
    jittered = TaskOptions(
        soft_time_limit_s=1, time_limit_s=2, retry_backoff_s=2, retry_backoff_max_s=10
    )
    rng = random.Random(7)
    delays = [retry_delay_s(jittered, 2, rng) for _ in range(200)]
    assert all(0 <= d <= 8 for d in delays)
    assert max(delays) - min(delays) > 4  # actually spread, not constant


def test_results_over_the_limit_are_refused() -> None:
    spec = CATALOG["text.process"]
    result = spec.result_model.model_validate({"processed_data": "x" * 2000})
    assert bounded_result(spec, result, 4096) == {"processed_data": "x" * 2000}
    with pytest.raises(ResultTooLarge, match="over the 1024 byte limit"):
        bounded_result(spec, result, 1024)
