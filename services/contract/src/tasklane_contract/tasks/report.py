from pydantic import BaseModel, ConfigDict, Field

from tasklane_contract import queues
from tasklane_contract.spec import TaskOptions, TaskSpec
from tasklane_contract.types import integer_literal

# Both bounds are plain per-field limits, so the published JSON Schema says all there is:
# at most 100,000 rows x 5 ms = 500 s, inside the soft time limit.
MAX_ROWS = 100_000
MAX_SECONDS_PER_ROW = 0.005


class GenerateReportArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    rows: int = Field(
        ge=1, le=MAX_ROWS, description="Rows to aggregate.", json_schema_extra=integer_literal
    )
    seconds_per_row: float = Field(
        0.001,
        ge=0,
        le=MAX_SECONDS_PER_ROW,
        description="Simulated cost of one row, to make the work long.",
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
