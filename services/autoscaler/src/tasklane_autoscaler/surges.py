"""Surges that recur on a schedule: a beat task fanning out a batch every N minutes, a nightly
import. A surge is demand at least doubling from one observation to the next. Once two came
(and the interval before, if any, agrees), the next is expected one interval after the last, and
the replicas the last surges needed are asked for one startup ahead of it. Pure functions over a
small history.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

SURGES_KEPT = 4
INTERVAL_TOLERANCE = 0.1  # relative difference of two intervals still called steady
MIN_INTERVAL_SLACK_S = 10.0  # absolute slack: the poll interval blurs when a surge is seen


@dataclass(frozen=True)
class SurgeHistory:
    starts: tuple[float, ...] = ()  # when each of the last surges was first seen
    peaks: tuple[int, ...] = ()  # the most replicas each of them asked for
    under_way: bool = False  # the latest surge's backlog has not drained yet
    last_demand: int = 0
    last_waiting: int = 0


def track(
    history: SurgeHistory, now: float, demand: int, waiting: int, wanted: int, jump: int
) -> SurgeHistory:
    """Fold one observation in. A surge starts when demand at least doubles, by `jump` tasks
    or more, from one observation to the next; it ends when nothing waits any more."""
    if history.under_way:
        if waiting == 0 and demand <= history.last_demand:
            history = replace(history, under_way=False)
        else:
            peaks = (*history.peaks[:-1], max(history.peaks[-1], wanted))
            history = replace(history, peaks=peaks)
    elif demand - history.last_demand >= max(jump, history.last_demand):
        history = replace(
            history,
            starts=(*history.starts, now)[-SURGES_KEPT:],
            peaks=(*history.peaks, wanted)[-SURGES_KEPT:],
            under_way=True,
        )
    return replace(history, last_demand=demand, last_waiting=waiting)


def period(history: SurgeHistory, shortest: float) -> float | None:
    """The interval between surges: the last one, once two surges were seen, as long as the
    one before it (if any) agrees. Shorter than `shortest` is one long surge, not a schedule."""
    if len(history.starts) < 2:
        return None
    later = history.starts[-1] - history.starts[-2]
    if later < shortest:
        return None
    if len(history.starts) == 2:
        return later
    earlier = history.starts[-2] - history.starts[-3]
    slack = max(MIN_INTERVAL_SLACK_S, INTERVAL_TOLERANCE * max(later, earlier))
    return (later + earlier) / 2 if abs(later - earlier) <= slack else None


def expected_replicas(history: SurgeHistory, now: float, startup_s: float) -> int:
    """Replicas to have ready for a surge due soon (0 when none is due)."""
    interval = period(history, shortest=4 * startup_s)
    if interval is None:
        return 0
    due = history.starts[-1] + interval
    lead = startup_s + max(MIN_INTERVAL_SLACK_S, 0.25 * startup_s)
    grace = min(0.25 * interval, 60.0)  # a surge that does not come is not waited for long
    if due - lead <= now <= due + grace:
        return min(history.peaks[-2:])
    return 0
