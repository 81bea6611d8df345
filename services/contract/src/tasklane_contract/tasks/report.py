from pydantic import BaseModel, ConfigDict, Field

from tasklane_contract import queues
from tasklane_contract.spec import TaskOptions, TaskSpec


class GenerateReportArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rows: int = Field(ge=1, le=1_000_000, description="Rows to aggregate.")
    seconds_per_row: float = Field(
        0.001, ge=0, le=1, description="Simulated cost of one row, to make the work long."
    )


class GenerateReportResult(BaseModel):
    rows: int
    total: int
    checksum: str


GENERATE_REPORT = TaskSpec(
    name="report.generate",
    queue=queues.REPORTS,
    args_model=GenerateReportArgs,
    result_model=GenerateReportResult,
    description="Long work that reports its progress (0-100%) while it runs.",
    options=TaskOptions(soft_time_limit_s=600, time_limit_s=660),
    reports_progress=True,
)
