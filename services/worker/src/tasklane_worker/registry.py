"""Which function implements which contract task, and the check that the two agree."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from tasklane_contract.spec import TaskSpec
from tasklane_worker.context import TaskContext

Implementation = Callable[[Any, TaskContext], BaseModel]
F = TypeVar("F", bound=Implementation)

IMPLEMENTATIONS: dict[str, Implementation] = {}


def implements(name: str) -> Callable[[F], F]:
    """Register a plain function `(args, ctx) -> result` as the implementation of `name`."""

    def register(fn: F) -> F:
        if name in IMPLEMENTATIONS:
            raise RuntimeError(f"{name} is implemented twice")
        IMPLEMENTATIONS[name] = fn
        return fn

    return register


def consistency_problems(
    catalog: Mapping[str, TaskSpec], implementations: Mapping[str, Implementation]
) -> list[str]:
    """Every contract task needs an implementation and every implementation a contract entry."""
    problems = [
        f"contract task {name!r} has no implementation in tasklane_worker"
        for name in sorted(catalog.keys() - implementations.keys())
    ]
    problems += [
        f"implementation {name!r} has no entry in the contract's catalog"
        for name in sorted(implementations.keys() - catalog.keys())
    ]
    return problems
