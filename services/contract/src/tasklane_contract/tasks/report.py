from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tasklane_contract import queues
from tasklane_contract.spec import TaskOptions, TaskSpec

MAX_SIMULATED_S = 540.0  # below the task's soft time limit


class GenerateReportArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rows: int = Field(ge=1, le=1_000_000, description="Rows to aggregate.")
    seconds_per_row: float = Field(
        0.001, ge=0, le=1, description="Simulated cost of one row, to make the work long."
    )

    @model_validator(mode="after")
    def _fits_time_limit(self) -> Self:
        if self.rows * self.seconds_per_row > MAX_SIMULATED_S:
            raise ValueError(f"rows * seconds_per_row must stay within {MAX_SIMULATED_S:.0f}s")
        return self


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
