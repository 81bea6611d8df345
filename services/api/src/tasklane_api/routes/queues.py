"""/v1/queues: how much work waits on each queue, counting priorities and reserved tasks."""

from __future__ import annotations

from fastapi import APIRouter

from tasklane_api.dependencies import ServicesDep
from tasklane_api.schemas import Problem, QueueBacklog, Queues
from tasklane_contract.backlog import read_backlog_async
from tasklane_contract.queues import OBSERVED_QUEUES

router = APIRouter(prefix="/v1/queues", tags=["queues"])


@router.get("", response_model=Queues, responses={503: {"model": Problem}})
async def list_queues(services: ServicesDep) -> Queues:
    backlog = await read_backlog_async(services.redis, OBSERVED_QUEUES)
    return Queues(
        queues=[
            QueueBacklog(name=b.queue, waiting=b.waiting, reserved=b.reserved, total=b.total)
            for b in backlog.values()
        ]
    )
