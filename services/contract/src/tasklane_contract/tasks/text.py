from pydantic import BaseModel, ConfigDict, Field

from tasklane_contract import queues
from tasklane_contract.spec import TaskOptions, TaskSpec


class ProcessTextArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    data: str = Field(max_length=10_000, description="Text to process.")


class ProcessTextResult(BaseModel):
    processed_data: str


PROCESS_TEXT = TaskSpec(
    name="text.process",
    queue=queues.DEFAULT,
    args_model=ProcessTextArgs,
    result_model=ProcessTextResult,
    description="Upper-cases a text: the smallest round trip through tasklane.",
    options=TaskOptions(soft_time_limit_s=10, time_limit_s=15),
)
