"""tasklane's scaling policy: how many worker replicas a queue backlog needs. Pure: no I/O, no
clock; the caller passes each observation with the state the previous decision returned.

Demand is what needs a worker slot: tasks reserved by workers plus the waiting tasks the ready
replicas will not reach within one replica startup (all of them once the queue has grown poll
after poll beyond what chance moves it, or stood for a startup). Up is fast: the replicas demand
needs, plus its growth over one startup, at once (a queue rising at the last polls grows at least
half as fast as it just did); a surge that recurs on a schedule finds its
replicas asked for a startup ahead, and short spikes that keep coming at no fixed time find part
of theirs held between them. Down is careful: to what covers the demand of the
stabilisation window (its mean plus half a deviation: a replica short now and then costs a short
wait, a replica held for every swing costs all the time), never below the replicas reserved
tasks occupy, and when running tasks look longer than a startup only by removing replicas that
run nothing (a busy one is paid until its longest task ends while its free slots serve nothing).
Tasks that also finish slower than a startup (the rate reserved tasks are acknowledged at says
so, where the running ages of a heavy tail mislead) keep a short standing queue instead: 0.3 of a
task per ready slot is left to the ready replicas, the window is covered at its mean and the
least busy replicas may go, so every slot stays busy, as under KEDA, for a third of its queue.
Never to zero while anything is reserved or waiting, and to zero only after a longer idle spell
(a cold start makes the next task wait a startup). The window adapts: when capacity had to come
back soon after it was let go, it doubles; when that stops happening, it halves back.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from enum import StrEnum

from tasklane_autoscaler.spikes import SpikeHistory, held_replicas
from tasklane_autoscaler.spikes import track as track_spikes
from tasklane_autoscaler.surges import (
    SurgeHistory,
    expected_replicas,
    period,
    track,
)


class Reason(StrEnum):
    SCALE_UP = "backlog"  # demand needs more replicas than there are
    SCALE_DOWN = "idle"  # fewer replicas cover the highest demand of the window
    STABILIZING = "stabilizing"  # demand fell, but not for the whole window yet
    RUNNING_TASKS = "running-tasks"  # lower would leave reserved tasks without their replica
    BUSY_REPLICAS = "busy-replicas"  # long tasks: only replicas running nothing are removed
    IDLE_BEFORE_ZERO = "idle-before-zero"  # zero only after a longer idle spell
    SCHEDULED_SURGE = "scheduled-surge"  # a surge that recurs on a schedule is due
    SPIKE_FLOOR = "spike-floor"  # short spikes keep coming: part of their replicas is held
    STEADY = "steady"  # the replicas there are match demand
    BOUNDS = "bounds"  # minReplicas/maxReplicas moved the answer


@dataclass(frozen=True)
class ScalingSpec:
    concurrency: int  # task slots of one replica
    min_replicas: int = 0
    max_replicas: int = 10
    tasks_per_replica: int | None = None  # demand one replica is sized for; default concurrency
    target_wait_s: float = 0.0  # how long a backlog may wait before replicas are added for it
    # Minutes, not seconds: capacity let go and needed again soon makes the next tasks wait a
    # startup, and loads swing back within minutes more often than not (the autoscaler README
    # says what 60 s against 240 s did on random workloads).
    scale_down_stabilization_s: float = 240.0
    max_stabilization_s: float = 300.0  # how far the adaptive window may grow
    startup_s: float = 30.0  # expected time from asking for a replica to it taking tasks
    idle_before_zero_s: float | None = None  # default: the window, and at least two startups

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if not 0 <= self.min_replicas <= self.max_replicas:
            raise ValueError("need 0 <= min_replicas <= max_replicas")
        if self.tasks_per_replica is not None and self.tasks_per_replica < 1:
            raise ValueError("tasks_per_replica must be at least 1")
        if self.scale_down_stabilization_s < 0 or self.startup_s < 0:
            raise ValueError("windows and startup must not be negative")

    @property
    def replica_demand(self) -> float:
        if self.tasks_per_replica is not None:
            return float(self.tasks_per_replica)
        return float(self.concurrency)

    @property
    def zero_after_s(self) -> float:
        if self.idle_before_zero_s is not None:
            return self.idle_before_zero_s
        return max(self.scale_down_stabilization_s, 2 * self.startup_s)


@dataclass(frozen=True)
class Observation:
    time: float  # seconds on any monotonic clock
    waiting: int  # in the queue's lists (every priority)
    reserved: int  # taken by workers, not yet acknowledged
    replicas: int  # replicas asked for now (the Deployment's spec.replicas)
    ready: int | None = None  # of those, taking tasks (None: assume all)
    running_mean_age_s: float | None = None  # mean time the reserved tasks have been running
    reserved_on_leaving: int = 0  # of `reserved`, held by replicas already being removed
    # Of `replicas`, those running no task (idle or not ready yet); None: not known.
    idle_replicas: int | None = None
    # Of the tasks reserved at the previous observation, those acknowledged since; None: not known.
    finished_of_reserved: int | None = None


@dataclass(frozen=True)
class Sample:
    time: float
    demand: float  # reserved + the waiting tasks the ready replicas will not reach soon
    running_age_s: float | None
    in_surge: bool = False  # taken while a surge was under way
    waiting: int = 0  # tasks in the queue's lists
    reserved: int = 0
    finished: int | None = None  # of the previous sample's reserved tasks, acknowledged since


@dataclass(frozen=True)
class PolicyState:
    samples: tuple[Sample, ...] = ()
    window_s: float | None = None  # the adaptive scale-down window; None: the spec's
    backlog_since: float | None = None  # when the queue last went from empty to non-empty
    busy_until: float | None = None  # last time anything was reserved or waiting
    last_scale_down: tuple[float, int, int] | None = None  # (time, from replicas, to replicas)
    last_regret: float | None = None
    observing_since: float | None = None  # no scale-down before a whole window was watched
    surges: SurgeHistory = field(default_factory=SurgeHistory)
    spikes: SpikeHistory = field(default_factory=SpikeHistory)


@dataclass(frozen=True)
class Decision:
    desired: int
    reason: Reason
    demand: int
    window_s: float
    state: PolicyState = field(repr=False)  # pass it back with the next observation


def running_floor(reserved: int, waiting: int, concurrency: int) -> int:
    """The fewest replicas that keep every reserved task's worker, and one for waiting work."""
    floor = math.ceil(reserved / concurrency)
    if reserved + waiting > 0:
        floor = max(floor, 1)
    return floor


def demand_growth_per_s(
    samples: tuple[Sample, ...], now: float, demand: float, span: float
) -> float:
    """How fast demand grows, at the low end of what the last `span` seconds support: the
    least-squares slope less two standard errors, so the noise of a steady load projects no
    growth and only a real ramp does (0 with too few samples).

    Polls come every few seconds and tasks run for longer, so neighbouring samples repeat
    each other: the error is widened by the residuals' lag-1 autocorrelation, as many samples
    that say the same thing are not that many pieces of evidence. Without it a load of
    minute-long tasks polled every 2 s showed a trend in its swings five times as often as
    polled every 10 s, and asked for replicas it gave back seconds later."""
    points = [(s.time, s.demand) for s in samples if s.time > now - span]
    points.append((now, demand))
    n = len(points)
    if n < 4:
        return 0.0
    mean_t = sum(t for t, _ in points) / n
    mean_d = sum(d for _, d in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return 0.0
    slope = sum((t - mean_t) * (d - mean_d) for t, d in points) / spread
    residuals = [d - mean_d - slope * (t - mean_t) for t, d in points]
    squares = sum(r * r for r in residuals)
    widening = _autocorrelation_factor(residuals, squares)
    standard_error = math.sqrt(squares / (n - 2) / spread * widening)
    return max(0.0, slope - 2 * standard_error)


def _autocorrelation_factor(residuals: list[float], squares: float) -> float:
    """How much fewer independent samples there are than samples: (1 + r) / (1 - r) for the
    lag-1 autocorrelation r, taken between 0 and 0.95 (`squares`: the residuals' sum of
    squares)."""
    if squares == 0:
        return 1.0
    lag1 = sum(a * b for a, b in itertools.pairwise(residuals)) / squares
    lag1 = min(max(lag1, 0.0), 0.95)
    return (1 + lag1) / (1 - lag1)


def task_seconds_estimate(samples: tuple[Sample, ...], now: float, span: float) -> float | None:
    """Mean task duration, from the mean age of running tasks. A task seen running is on
    average half way through (longer tasks are seen more often, which errs towards long),
    so twice the mean age."""
    ages = [s.running_age_s for s in samples if s.time > now - span and s.running_age_s]
    if not ages:
        return None
    return 2 * sum(ages) / len(ages)


FEWEST_FINISHED = 4  # finishes a throughput estimate of the task length needs
# Tasks that outlast a startup: waiting tasks up to this many per ready slot are left to the
# ready replicas. KEDA, sizing on the queue alone, keeps about one waiting task per slot, so every
# slot stays busy and a task waits about one task length; this keeps them busy with under a third
# of that queue. Half a task per slot made six held-out random workloads wait too long (the
# autoscaler README has the figures).
LEFT_PER_READY_SLOT = 0.3


def task_seconds_from_finishing(
    samples: tuple[Sample, ...], now: float, reserved: int, finished: int | None, span: float
) -> float | None:
    """Mean task length from how fast reserved tasks finish (Little's law): N tasks watched
    for T seconds of which F finish run N T / F seconds on average. Unlike the running ages,
    which a few long tasks of a heavy tail dominate, this counts every task that outlasts a
    poll; shorter ones all finish within one and read as about a poll long (None before
    FEWEST_FINISHED were seen in the last `span` seconds)."""
    points = [(s.time, s.reserved, s.finished) for s in samples if s.time > now - span]
    points.append((now, reserved, finished))
    watched = 0.0
    finishes = 0
    for (before, tasks, _), (at, _, done) in itertools.pairwise(points):
        if done is None:
            continue
        watched += (at - before) * tasks
        finishes += done
    if finishes < FEWEST_FINISHED:
        return None
    return watched / finishes


def queue_beyond_ready(obs: Observation, spec: ScalingSpec) -> float:
    """Waiting tasks beyond the short standing queue left to the ready replicas when tasks
    outlast a startup: a slot that frees takes the next at once, and no replica is paid to wait
    for a task."""
    ready = obs.replicas if obs.ready is None else obs.ready
    return max(0.0, obs.waiting - LEFT_PER_READY_SLOT * ready * spec.concurrency)


def unreached_backlog(obs: Observation, spec: ScalingSpec, task_seconds: float | None) -> float:
    """Waiting tasks the replicas already ready will not start within one startup: only those
    are worth new replicas, which would arrive no sooner."""
    if task_seconds is None or task_seconds <= 0:
        return float(obs.waiting)
    ready = obs.replicas if obs.ready is None else obs.ready
    reached = ready * spec.concurrency * spec.startup_s / task_seconds
    return max(0.0, obs.waiting - reached)


# Of the window's standard deviation of demand, how much the replicas left after a scale-down
# cover on top of its mean (covering_replicas says why half).
SWING_COVERED = 0.5


def covering_replicas(
    demands: list[float], spec: ScalingSpec, deviations: float = SWING_COVERED
) -> int:
    """Replicas for the demand of a window: its mean plus half a standard deviation. Most of
    the load's swing is covered; the rest is met by scaling up when a backlog forms, since
    capacity held for every swing is paid all the time (and reserved tasks keep their replicas
    through the running floor anyway). A full deviation cost 5-10 % more replica-seconds on
    noisy loads; none at all doubled the scale events of a slow wave. Where a standing queue
    takes the swing (tasks that outlast a startup), the mean alone (`deviations` 0)."""
    mean = sum(demands) / len(demands)
    spread = math.sqrt(sum((d - mean) ** 2 for d in demands) / len(demands))
    return math.ceil((mean + deviations * spread) / spec.replica_demand)


def removable_replicas(
    obs: Observation, spec: ScalingSpec, task_seconds: float | None, outlasting: bool
) -> int:
    """How many replicas a scale-down may take. When running tasks look longer than a replica
    startup, a busy replica asked to leave keeps being paid until its longest task ends while
    its other slots serve nothing, and replacing it costs a startup: only replicas that run
    nothing go. Not when tasks finish slower than a startup (`outlasting`): the standing queue
    left to the ready replicas refills every free slot at once, so none is ever idle, and the
    least busy (pod-deletion-cost) go."""
    if outlasting:
        return obs.replicas
    if obs.idle_replicas is None or task_seconds is None or task_seconds <= spec.startup_s:
        return obs.replicas
    return obs.idle_replicas


def regretted(state: PolicyState, now: float, wanted: int, window: float, startup_s: float) -> bool:
    """Did a large scale-down have to be undone soon after? Small steps back and forth are
    the noise of a steady load and teach nothing."""
    if state.last_scale_down is None:
        return False
    at, before, after = state.last_scale_down
    large = before - after >= max(2, before / 2)
    return large and wanted >= before and now - at < 2 * max(window, startup_s)


def adapted_window(state: PolicyState, spec: ScalingSpec, now: float, wanted: int) -> float:
    window = state.window_s if state.window_s is not None else spec.scale_down_stabilization_s
    base = spec.scale_down_stabilization_s
    regret = regretted(state, now, wanted, window, spec.startup_s)
    if regret:
        return min(max(2 * window, spec.startup_s), max(spec.max_stabilization_s, base))
    calm_since = state.last_regret if state.last_regret is not None else 0.0
    if window > base and now - calm_since > 4 * window:
        return max(base, window / 2)
    return window


def chance_swing(obs: Observation, task_seconds: float | None, seconds: float) -> float:
    """The standard deviation of a busy queue's change over `seconds` by chance: tasks leave
    at the rate the reserved ones finish (Little's law) and, near capacity, arrive at about
    that rate; two Poisson streams, so the net change has a variance of twice that rate times
    the seconds (0 while task length is unknown). Sixteen 1 s tasks running make a backlog
    swing by 11 tasks over two 2 s polls: counted whole, such rises made 34 scale events on a
    load KEDA met with 2, each replica cancelled before it was ready."""
    if not task_seconds or task_seconds <= 0 or seconds <= 0:
        return 0.0
    return math.sqrt(2 * obs.reserved / task_seconds * seconds)


def mostly_waiting(recent: tuple[Sample, ...], now: float, span: float) -> bool:
    """Did tasks wait at nine in ten of the polls of the last `span` seconds? Only once that
    whole span was watched, and over at least four polls."""
    if not recent or recent[0].time > now - span:
        return False
    polls = [s.waiting for s in recent if s.time > now - span]
    return len(polls) >= 4 and sum(1 for waiting in polls if waiting > 0) >= 0.9 * len(polls)


def rising(
    obs: Observation, spec: ScalingSpec, task_seconds: float | None, recent: tuple[Sample, ...]
) -> bool:
    """Did the queue grow at each of the last two polls, by a replica's worth and beyond
    chance? Fewer new tasks than one replica is sized for are a clump of arrivals the ready
    replicas' next free slots take, not a sign that a replica is missing; so is a rise within
    two standard deviations of what a queue at capacity swings by chance."""
    seen = [s.waiting for s in recent[-2:]] + [obs.waiting]
    if len(seen) < 3 or not seen[0] < seen[1] < seen[2]:
        return False
    chance = chance_swing(obs, task_seconds, obs.time - recent[-2].time)
    return seen[2] - seen[0] >= max(spec.replica_demand, 2 * chance)


# Of a rising queue's growth, the share projected over a startup (queue_rise_per_s says why).
RISE_PROJECTED = 0.5


def queue_rise_per_s(obs: Observation, recent: tuple[Sample, ...]) -> float:
    """How fast a queue that `rising` found growing grows: the slower of its last two rises
    (0 if it fell). Two polls are few to judge a rate by, so only RISE_PROJECTED of it is
    projected. The trend over two startups sees a step in the arrival rate late: a 25-fold step
    (a `flash-crowd` variant, 57 s startups) was asked for in five rounds over 16 s, the last
    replicas ready 18 s after the first; with its last rises the queue had its 42 replicas asked
    for at the third poll of the step."""
    before, last = recent[-2], recent[-1]
    if not before.time < last.time < obs.time:
        return 0.0
    first = (last.waiting - before.waiting) / (last.time - before.time)
    second = (obs.waiting - last.waiting) / (obs.time - last.time)
    return max(0.0, min(first, second))


def needing_slots(
    obs: Observation,
    spec: ScalingSpec,
    task_seconds: float | None,
    backlog_since: float | None,
    recent: tuple[Sample, ...],
    outlasting: bool,
    rose: bool,
) -> float:
    """Reserved tasks that stay plus the backlog worth new replicas (`rose`: what `rising` says
    of the queue)."""
    # Tasks on replicas already leaving finish there: they need no slot among those that stay.
    staying_reserved = max(0, obs.reserved - obs.reserved_on_leaving)
    if outlasting:
        return staying_reserved + queue_beyond_ready(obs, spec)
    # The discount of the backlog is a bet that it drains within a startup. A backlog older
    # than that lost the bet (a standing queue), and so did one that grew at each of the last
    # two polls (tasks arrive faster than the ready replicas take them; one jump alone is a
    # burst they may drain): all of it counts.
    standing = backlog_since is not None and obs.time - backlog_since >= spec.startup_s
    # A queue at capacity touches zero now and then without draining: one that held tasks at
    # nine polls in ten over a startup stands as much as one that never emptied.
    standing = standing or (obs.waiting > 0 and mostly_waiting(recent, obs.time, spec.startup_s))
    whole = standing or rose
    backlog = float(obs.waiting) if whole else unreached_backlog(obs, spec, task_seconds)
    return staying_reserved + backlog


def wanted_replicas(
    obs: Observation,
    spec: ScalingSpec,
    state: PolicyState,
    needing: float,
    backlog_since: float | None,
    rise_per_s: float,
) -> int:
    """Replicas for the demand one startup from now (a replica asked for now only helps then),
    before bounds and stabilisation. `rise_per_s`: how fast a rising queue grows
    (queue_rise_per_s), 0 when it is not rising."""
    # Growth of the demand that needs slots: a spike the ready replicas absorb is no trend.
    growth = demand_growth_per_s(state.samples, obs.time, needing, span=2 * spec.startup_s)
    # The trend over two startups is slow to see a step in the arrival rate, which the last
    # polls show at once.
    growth = max(growth, RISE_PROJECTED * rise_per_s)
    # Demand there is needs every replica it starts (rounded up); demand only projected from a
    # trend is an estimate, and a replica is asked for it once more than half of one is needed:
    # near capacity, a rounded-up slight trend asked for a replica at every swing.
    projected = (needing + growth * spec.startup_s) / spec.replica_demand
    wanted = max(math.ceil(needing / spec.replica_demand), math.ceil(projected - 0.5))
    if obs.waiting > 0:
        wanted = max(wanted, 1)  # waiting work always has a replica to go to
    patient = (
        spec.target_wait_s > 0
        and backlog_since is not None
        and obs.time - backlog_since < spec.target_wait_s
    )
    if patient:
        # The backlog is younger than the wait the user accepts: size for what runs, not for it.
        staying_reserved = max(0, obs.reserved - obs.reserved_on_leaving)
        wanted = math.ceil(staying_reserved / spec.replica_demand)
    return wanted


def direction(
    obs: Observation,
    wanted: int,
    bounded_wanted: int,
    scheduled: int,
    window_peak: int,
    watched_whole_window: bool,
) -> tuple[int, Reason]:
    """Up, down or hold, before the safety rules."""
    if bounded_wanted > obs.replicas:
        reason = Reason.SCALE_UP if wanted >= bounded_wanted else Reason.BOUNDS
        return bounded_wanted, reason
    if scheduled > obs.replicas:
        return scheduled, Reason.SCHEDULED_SURGE
    if window_peak < obs.replicas:
        if not watched_whole_window:
            # Just started (or restarted): what happened before is unknown, so hold a window.
            return obs.replicas, Reason.STABILIZING
        if obs.waiting > 0:
            # Tasks are still waiting: every replica there is about to take one.
            return obs.replicas, Reason.STABILIZING
        return window_peak, Reason.SCALE_DOWN
    if bounded_wanted < obs.replicas:
        return obs.replicas, Reason.STABILIZING
    return obs.replicas, Reason.STEADY


def kept_safe(
    obs: Observation,
    spec: ScalingSpec,
    decision: tuple[int, Reason],
    scheduled: int,
    floor: int,
    idle_for: float,
    removable: int,
) -> tuple[int, Reason]:
    """The rules no scale-down may break, then the bounds."""
    desired, reason = decision
    if desired < obs.replicas - removable:
        desired, reason = obs.replicas - removable, Reason.BUSY_REPLICAS
    if desired < obs.replicas and desired < scheduled:
        desired, reason = min(scheduled, obs.replicas), Reason.SCHEDULED_SURGE
    if desired < obs.replicas and desired < floor:
        desired, reason = min(floor, obs.replicas), Reason.RUNNING_TASKS
    if desired == 0 < obs.replicas and idle_for < spec.zero_after_s:
        desired, reason = 1, Reason.IDLE_BEFORE_ZERO
    bounded = max(spec.min_replicas, min(spec.max_replicas, desired))
    if bounded != desired:
        desired, reason = bounded, Reason.BOUNDS if bounded != obs.replicas else Reason.STEADY
    if desired == obs.replicas and reason in (Reason.SCALE_UP, Reason.SCALE_DOWN):
        reason = Reason.STEADY
    return desired, reason


def decide(obs: Observation, spec: ScalingSpec, state: PolicyState | None = None) -> Decision:
    state = state or PolicyState()
    # Short spikes keep coming: part of their replicas is held between them, as a raised
    # minimum (reported as its own reason).
    user_min = spec.min_replicas
    held = min(held_replicas(state.spikes, obs.time), spec.max_replicas)
    if held > user_min:
        spec = replace(spec, min_replicas=held)
    demand = obs.waiting + obs.reserved
    if obs.waiting == 0:
        backlog_since = None
    else:
        backlog_since = state.backlog_since if state.backlog_since is not None else obs.time
    busy_until = obs.time if demand > 0 else state.busy_until
    staying_reserved = max(0, obs.reserved - obs.reserved_on_leaving)
    # Tasks that need a slot among the replicas that stay, and how many replicas' worth.
    staying_demand = obs.waiting + staying_reserved
    load = staying_demand / spec.replica_demand

    span = max(2 * spec.startup_s, 30.0)
    task_seconds = task_seconds_estimate(state.samples, obs.time, span)
    # How long tasks run, from how fast they finish: what decides if a standing queue is kept.
    task_length = task_seconds_from_finishing(
        state.samples,
        obs.time,
        obs.reserved,
        obs.finished_of_reserved,
        span=max(spec.max_stabilization_s, span),
    )
    outlasting = task_length is not None and task_length > spec.startup_s
    rose = rising(obs, spec, task_seconds, state.samples)
    needing = needing_slots(obs, spec, task_seconds, backlog_since, state.samples, outlasting, rose)
    # Where tasks outlast a startup a short queue is kept on purpose, and its rises are no step.
    rise = queue_rise_per_s(obs, state.samples) if rose and not outlasting else 0.0
    wanted = wanted_replicas(obs, spec, state, needing, backlog_since, rise)
    bounded_wanted = max(spec.min_replicas, min(spec.max_replicas, wanted))
    surges = track(
        state.surges,
        obs.time,
        demand=staying_demand,
        waiting=obs.waiting,
        wanted=math.ceil(load),
        jump=4 * spec.concurrency,
    )
    scheduled = min(spec.max_replicas, expected_replicas(surges, obs.time, spec.startup_s))

    window = adapted_window(
        state, spec, obs.time, bounded_wanted if bounded_wanted > obs.replicas else 0
    )
    regretted = window > (state.window_s or spec.scale_down_stabilization_s)
    # A surge that came on schedule is over: its peak is no sign of what comes next (the
    # schedule is), so it does not hold replicas through the window.
    forget_surge = not surges.under_way and period(surges, 4 * spec.startup_s) is not None
    window_demand = [
        s.demand
        for s in state.samples
        if s.time > obs.time - window and not (forget_surge and s.in_surge)
    ]
    covering = covering_replicas(
        [*window_demand, needing], spec, deviations=0.0 if outlasting else SWING_COVERED
    )
    window_peak = max(bounded_wanted, covering)
    observing_since = state.observing_since if state.observing_since is not None else obs.time

    desired, reason = kept_safe(
        obs,
        spec,
        direction(
            obs,
            wanted,
            bounded_wanted,
            scheduled,
            window_peak,
            watched_whole_window=obs.time - observing_since >= window,
        ),
        scheduled,
        floor=running_floor(staying_reserved, obs.waiting, spec.concurrency),
        idle_for=obs.time - busy_until if busy_until is not None else math.inf,
        removable=removable_replicas(obs, spec, task_seconds, outlasting),
    )
    held_for_spikes = desired == spec.min_replicas > max(user_min, wanted)
    if held_for_spikes and reason in (Reason.BOUNDS, Reason.STEADY):
        reason = Reason.SPIKE_FLOOR

    keep_after = obs.time - max(spec.max_stabilization_s, window, span)
    sample = Sample(
        obs.time,
        needing,
        obs.running_mean_age_s if obs.reserved else None,
        in_surge=surges.under_way,
        waiting=obs.waiting,
        reserved=obs.reserved,
        finished=obs.finished_of_reserved,
    )
    new_state = replace(
        state,
        samples=(*(s for s in state.samples if s.time > keep_after), sample),
        window_s=window,
        backlog_since=backlog_since,
        busy_until=busy_until,
        last_scale_down=(
            (obs.time, obs.replicas, desired) if desired < obs.replicas else state.last_scale_down
        ),
        last_regret=obs.time if regretted else state.last_regret,
        observing_since=observing_since,
        surges=surges,
        spikes=track_spikes(
            state.spikes,
            obs.time,
            load=load,
            busy=staying_reserved / spec.concurrency,
            startup_s=spec.startup_s,
        ),
    )
    return Decision(desired=desired, reason=reason, demand=demand, window_s=window, state=new_state)
