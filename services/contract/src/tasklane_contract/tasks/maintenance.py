from pydantic import BaseModel, ConfigDict

from tasklane_contract import queues
from tasklane_contract.spec import TaskOptions, TaskSpec


class CleanupArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CleanupResult(BaseModel):
    removed: int


CLEANUP = TaskSpec(
    name="maintenance.cleanup",
    queue=queues.MAINTENANCE,
    args_model=CleanupArgs,
    result_model=CleanupResult,
    description="Periodic: drops expired entries from the index of submitted tasks.",
    options=TaskOptions(soft_time_limit_s=60, time_limit_s=90),
    periodic=True,
)
