"""When to try a transiently failed task again."""

from __future__ import annotations

import random

from tasklane_contract.spec import TaskOptions


def retry_delay_s(options: TaskOptions, attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: a random delay up to base * 2**attempt, capped.

    Full jitter spreads retries of a burst of failures instead of synchronising them."""
    ceiling = min(options.retry_backoff_max_s, options.retry_backoff_s * 2**attempt)
    if not options.retry_jitter:
        return float(ceiling)
    return (rng or random).uniform(0, ceiling)
