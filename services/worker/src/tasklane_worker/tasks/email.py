import hashlib

from tasklane_contract.tasks.email import SendEmailArgs, SendEmailResult
from tasklane_worker.context import TaskContext
from tasklane_worker.errors import TransientError
from tasklane_worker.registry import implements


class DeliveryDeferred(TransientError):
    """The (simulated) mail server asked us to try again later."""


@implements("email.send")
def send_email(args: SendEmailArgs, ctx: TaskContext) -> SendEmailResult:
    if ctx.attempt < args.simulate_transient_failures:
        raise DeliveryDeferred(f"mail server for {args.to} answered 421 try again later")
    # Derived from the task id, so a redelivered task reports the same message id.
    digest = hashlib.sha256(ctx.task_id.encode()).hexdigest()[:16]
    return SendEmailResult(message_id=f"<{digest}@tasklane.local>", attempts=ctx.attempt + 1)
