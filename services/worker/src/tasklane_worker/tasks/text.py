from tasklane_contract.tasks.text import ProcessTextArgs, ProcessTextResult
from tasklane_worker.context import TaskContext
from tasklane_worker.registry import implements


@implements("text.process")
def process_text(args: ProcessTextArgs, ctx: TaskContext) -> ProcessTextResult:
    return ProcessTextResult(processed_data=args.data.upper())
