import hashlib
import time

from tasklane_contract.tasks.report import GenerateReportArgs, GenerateReportResult
from tasklane_worker.context import TaskContext
from tasklane_worker.registry import implements


@implements("report.generate")
def generate_report(args: GenerateReportArgs, ctx: TaskContext) -> GenerateReportResult:
    total = 0
    digest = hashlib.sha256()
    ctx.report_progress(0)
    for row in range(1, args.rows + 1):
        value = row * row % 9973
        total += value
        digest.update(value.to_bytes(2, "big"))
        if args.seconds_per_row:
            time.sleep(args.seconds_per_row)
        ctx.report_progress(100 * row / args.rows, f"{row}/{args.rows} rows")
    return GenerateReportResult(rows=args.rows, total=total, checksum=digest.hexdigest())
