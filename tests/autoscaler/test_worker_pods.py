"""Which worker pods go first, and which reserved tasks are on pods already leaving."""

from __future__ import annotations

from typing import Any

from tasklane_autoscaler.deletion_cost import (
    changed_costs,
    current_pods,
    deletion_costs,
    idle_replicas,
    worker_host,
)
from tasklane_autoscaler.leaving import leaving_pods, tasks_on_leaving
from tasklane_autoscaler.worker_load import ANSWER_REUSE_S, LastAnswer


def test_cost_is_the_running_task_count_of_the_pods_worker() -> None:
    running = {"celery@workers-a": 3, "celery@workers-b": 0, "celery@elsewhere": 5}
    costs = deletion_costs(["workers-a", "workers-b", "workers-c"], running)
    assert costs == {"workers-a": 3, "workers-b": 0, "workers-c": 0}
    assert worker_host("celery@workers-a") == "workers-a"
    assert worker_host("workers-a") == "workers-a"


def test_only_changed_annotations_are_patched() -> None:
    wanted = {"a": 3, "b": 0, "c": 1}
    current: dict[str, str | None] = {"a": "3", "b": None, "c": "2"}
    assert changed_costs(wanted, current) == {"b": 0, "c": 1}


def test_tasks_on_terminating_pods_are_counted_apart() -> None:
    pods = [
        {"metadata": {"name": "workers-a"}},
        {"metadata": {"name": "workers-b", "deletionTimestamp": "2026-01-01T00:00:00Z"}},
    ]
    leaving = leaving_pods(pods)
    assert leaving == {"workers-b"}
    running = {"celery@workers-a": 2, "celery@workers-b": 3}
    assert tasks_on_leaving(leaving, running) == 3
    assert tasks_on_leaving(set(), running) == 0


def test_pods_that_run_nothing_are_the_idle_replicas() -> None:
    pods: list[dict[str, Any]] = [
        {"metadata": {"name": "workers-a", "annotations": {"x": "y"}}},
        {
            "metadata": {
                "name": "workers-b",
                "annotations": {"controller.kubernetes.io/pod-deletion-cost": "2"},
            }
        },
        {"metadata": {"name": "workers-c"}},
        {"metadata": {"name": "workers-d", "deletionTimestamp": "2026-01-01T00:00:00Z"}},
    ]
    current = current_pods(pods)
    assert current == {"workers-a": None, "workers-b": "2", "workers-c": None}
    # workers-c did not answer Celery: not up yet or stuck, it runs nothing either way.
    running = {"celery@workers-a": 0, "celery@workers-b": 2}
    assert idle_replicas(current, running) == 2


def test_an_answer_is_reused_only_while_it_is_recent() -> None:
    last = LastAnswer()
    assert last.within(now=100.0, max_age_s=ANSWER_REUSE_S) is None  # nothing asked yet
    last.remember(100.0, {"celery@worker-a": 2})
    assert last.within(now=99.9 + ANSWER_REUSE_S, max_age_s=ANSWER_REUSE_S) == {
        "celery@worker-a": 2
    }
    assert last.within(now=100.0 + ANSWER_REUSE_S, max_age_s=ANSWER_REUSE_S) is None
    assert last.within(now=100.0, max_age_s=0.0) is None  # a scale-down that goes ahead asks
