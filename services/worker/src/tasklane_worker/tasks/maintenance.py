import time

from tasklane_contract.records import SUBMITTED_INDEX_KEY
from tasklane_contract.tasks.maintenance import CleanupArgs, CleanupResult
from tasklane_worker.context import TaskContext
from tasklane_worker.registry import implements


@implements("maintenance.cleanup")
def cleanup(args: CleanupArgs, ctx: TaskContext) -> CleanupResult:
    """Submission records expire by themselves; their index entries are trimmed here."""
    oldest_kept = time.time() - ctx.settings.result_expires_s
    removed = ctx.redis.zremrangebyscore(SUBMITTED_INDEX_KEY, "-inf", oldest_kept)
    return CleanupResult(removed=int(removed))
