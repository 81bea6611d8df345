from pydantic import BaseModel, ConfigDict, Field

from tasklane_contract import queues
from tasklane_contract.spec import TaskOptions, TaskSpec

MAX_SLEEP_S = 300.0


class SleepArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    seconds: float = Field(ge=0, le=MAX_SLEEP_S, description="How long the task sleeps.")


class SleepResult(BaseModel):
    slept_s: float


SLEEP = TaskSpec(
    name="demo.sleep",
    queue=queues.DEFAULT,
    args_model=SleepArgs,
    result_model=SleepResult,
    description="Sleeps for a bounded time: load and autoscaling demos.",
    options=TaskOptions(soft_time_limit_s=MAX_SLEEP_S + 10, time_limit_s=MAX_SLEEP_S + 20),
)
