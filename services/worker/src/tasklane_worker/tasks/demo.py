import time

from tasklane_contract.tasks.demo import SleepArgs, SleepResult
from tasklane_worker.context import TaskContext
from tasklane_worker.registry import implements


@implements("demo.sleep")
def sleep(args: SleepArgs, ctx: TaskContext) -> SleepResult:
    started = time.monotonic()
    time.sleep(args.seconds)
    return SleepResult(slept_s=round(time.monotonic() - started, 3))
