"""/v1/task-types: the contract's catalog, with each task's argument and result schemas."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from tasklane_api.schemas import Problem, TaskType, TaskTypes
from tasklane_contract.catalog import CATALOG, get_spec

router = APIRouter(prefix="/v1/task-types", tags=["catalog"])


@router.get("", response_model=TaskTypes)
async def list_task_types() -> TaskTypes:
    return TaskTypes(task_types=[TaskType(**s.catalog_entry()) for s in CATALOG.values()])


@router.get("/{name}", response_model=TaskType, responses={404: {"model": Problem}})
async def get_task_type(name: str) -> TaskType:
    spec = get_spec(name)
    if spec is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task type named {name!r}")
    return TaskType(**spec.catalog_entry())
