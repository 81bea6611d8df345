"""The scaling policy, called directly: fast up, safe down, bounds, and its adaptive parts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tasklane_autoscaler.policy import (
    Observation,
    PolicyState,
    Reason,
    Sample,
    ScalingSpec,
    covering_replicas,
    decide,
    demand_growth_per_s,
    queue_rise_per_s,
    running_floor,
    task_seconds_from_finishing,
)

SPEC = ScalingSpec(
    concurrency=4, min_replicas=0, max_replicas=20, scale_down_stabilization_s=60, startup_s=20
)


def run(observations: list[Observation], spec: ScalingSpec = SPEC) -> list[tuple[int, Reason]]:
    """Feed observations in order, each seeing the replicas the previous decision set."""
    state = PolicyState()
    replicas = observations[0].replicas
    results = []
    for obs in observations:
        decision = decide(replace(obs, replicas=replicas), spec, state)
        state, replicas = decision.state, decision.desired
        results.append((decision.desired, decision.reason))
    return results


@pytest.mark.parametrize(
    ("obs", "spec", "desired", "reason"),
    [
        pytest.param(Observation(0, 0, 0, 0), SPEC, 0, Reason.STEADY, id="idle-at-zero"),
        pytest.param(Observation(0, 20, 0, 1), SPEC, 5, Reason.SCALE_UP, id="backlog-at-once"),
        pytest.param(Observation(0, 1, 0, 0), SPEC, 1, Reason.SCALE_UP, id="one-task-from-zero"),
        pytest.param(
            Observation(0, 18, 4, 1), SPEC, 6, Reason.SCALE_UP, id="waiting-plus-reserved"
        ),
        pytest.param(Observation(0, 500, 0, 3), SPEC, 20, Reason.SCALE_UP, id="capped-at-max"),
        pytest.param(
            Observation(0, 0, 0, 0),
            replace(SPEC, min_replicas=2),
            2,
            Reason.BOUNDS,
            id="raised-to-min",
        ),
        pytest.param(
            Observation(0, 0, 3, 1), SPEC, 1, Reason.STEADY, id="reserved-keeps-its-replica"
        ),
        pytest.param(
            Observation(0, 40, 0, 1),
            replace(SPEC, tasks_per_replica=10),
            4,
            Reason.SCALE_UP,
            id="tasks-per-replica",
        ),
    ],
)
def test_single_decision(obs: Observation, spec: ScalingSpec, desired: int, reason: Reason) -> None:
    decision = decide(obs, spec)
    assert (decision.desired, decision.reason) == (desired, reason)


def test_a_fresh_start_holds_for_a_window_before_any_scale_down() -> None:
    # After an operator restart the past is unknown: the replicas there may be needed.
    assert decide(Observation(0, 0, 0, 8), SPEC).desired == 8


def test_scale_down_waits_for_the_window_then_goes_to_what_runs() -> None:
    results = run(
        [
            Observation(0, 36, 4, 1),  # 40 tasks: 10 replicas
            Observation(5, 0, 10, 10),  # drained, 10 still running: hold
            Observation(30, 0, 10, 10),
            Observation(70, 0, 10, 10),  # the window is over: down to what 10 tasks need
        ]
    )
    assert results[0] == (10, Reason.SCALE_UP)
    assert results[1] == (10, Reason.STABILIZING)
    assert results[2] == (10, Reason.STABILIZING)
    assert results[3] == (3, Reason.SCALE_DOWN)  # ceil(10 / 4), not fewer


def test_never_below_the_replicas_reserved_tasks_occupy() -> None:
    # More tasks per replica than slots: demand alone would ask for 1, the running 9 need 3.
    spec = replace(SPEC, tasks_per_replica=16)
    watched = decide(Observation(0, 0, 9, 5), spec).state
    decision = decide(Observation(100, 0, 9, 5), spec, watched)
    assert decision.desired == 3
    assert decision.reason is Reason.RUNNING_TASKS
    assert running_floor(reserved=9, waiting=0, concurrency=4) == 3


def test_never_to_zero_while_anything_is_reserved_or_waiting() -> None:
    watched = decide(Observation(0, 0, 0, 1), SPEC).state
    assert decide(Observation(1000, 0, 1, 1), SPEC, watched).desired == 1
    assert decide(Observation(1000, 1, 0, 1), SPEC, watched).desired == 1
    assert decide(Observation(1000, 0, 0, 1), SPEC, watched).desired == 0
    assert running_floor(reserved=0, waiting=1, concurrency=4) == 1
    assert running_floor(reserved=0, waiting=0, concurrency=4) == 0


def test_zero_only_after_a_longer_idle_spell() -> None:
    results = run(
        [
            Observation(0, 1, 0, 0),
            Observation(5, 0, 1, 1),  # last busy at 5 s
            Observation(10, 0, 0, 1),
            Observation(30, 0, 0, 1),  # 25 s idle: the 10 s window is over, two startups not
            Observation(50, 0, 0, 1),  # 45 s idle
        ],
        replace(SPEC, scale_down_stabilization_s=10),
    )
    assert [desired for desired, _ in results] == [1, 1, 1, 1, 0]
    assert results[3][1] is Reason.IDLE_BEFORE_ZERO


def test_backlog_the_ready_replicas_will_reach_soon_adds_none() -> None:
    # 10 ready replicas x 4 slots, tasks of ~0.2 s: 40 waiting are gone in a fraction of a
    # startup; new replicas would arrive to an empty queue.
    spec = replace(SPEC, scale_down_stabilization_s=300)
    state = decide(Observation(0, 0, 20, 10, ready=10, running_mean_age_s=0.1), spec).state
    decision = decide(Observation(5, 40, 20, 10, ready=10, running_mean_age_s=0.1), spec, state)
    assert decision.desired == 10
    # The same backlog of minute-long tasks does need more replicas.
    state = decide(Observation(0, 0, 20, 10, ready=10, running_mean_age_s=30), spec).state
    decision = decide(Observation(5, 40, 20, 10, ready=10, running_mean_age_s=30), spec, state)
    assert decision.desired > 10


def waiting_seen(
    spec: ScalingSpec,
    polls: tuple[tuple[float, int], ...],
    reserved: int,
    replicas: int,
    age: float,
) -> int:
    """The last decision after polls that saw (time, waiting tasks), with the same replicas,
    all ready, and the same reserved tasks running for `age` seconds on average."""
    state = None
    for time, waiting in polls:
        observation = Observation(time, waiting, reserved, replicas, replicas, age)
        decision = decide(observation, spec, state)
        state = decision.state
    return decision.desired


def test_a_backlog_growing_poll_after_poll_counts_whole() -> None:
    # 50 waiting tasks of ~1 s the ready replicas would reach soon (800 in one startup), but the
    # queue grew at each of the last two polls, by more than chance moves it: tasks arrive
    # faster than they are taken. Half its last rise, 2.5 a second, is projected over the 20 s
    # startup too: (20 reserved + 50 waiting + 50 more) / 4 slots.
    spec = replace(SPEC, scale_down_stabilization_s=300, max_replicas=40)
    grown = ((0, 0), (5, 25), (10, 50))
    assert waiting_seen(spec, grown, 20, 10, 0.5) == 30
    # Grown at one poll and not the next: a burst the ready replicas drain, discounted.
    assert waiting_seen(spec, ((0, 0), (5, 50), (10, 50)), 20, 10, 0.5) == 10


def test_a_backlog_must_grow_by_a_replicas_worth_to_count_whole() -> None:
    # Five replicas, every slot busy, tasks of about a minute: the ready replicas reach a few
    # waiting tasks within a startup. A queue that grows by fewer tasks than one replica takes
    # is a clump of arrivals; one that grows by a replica's worth is a load the ready replicas
    # fall behind.
    assert waiting_seen(SPEC, ((0, 0), (2, 1), (4, 3)), 20, 5, 30) == 5
    # (20 reserved + 4 waiting + 10 more at half its last rise over the 20 s startup) / 4 slots.
    assert waiting_seen(SPEC, ((0, 0), (2, 2), (4, 4)), 20, 5, 30) == 8


def test_a_backlog_must_rise_beyond_what_chance_moves_a_busy_queue_to_count_whole() -> None:
    # Two replicas of 8 slots, all 16 running 1 s tasks, polled every 2 s. Near capacity the
    # queue swings by about 11 tasks over two polls: a rise of 9 is that swing, one of 40 is
    # a load the ready replicas fall behind.
    spec = ScalingSpec(concurrency=8, min_replicas=2, max_replicas=40, startup_s=38)
    assert waiting_seen(spec, ((0, 4), (2, 9), (4, 13)), 16, 2, 0.5) == 2
    # (16 reserved + 40 waiting + 190 more at half its last rise over the 38 s startup) / 8.
    assert waiting_seen(spec, ((0, 0), (2, 20), (4, 40)), 16, 2, 0.5) == 31


def test_a_queue_that_waited_at_nine_polls_in_ten_stands_though_it_touched_zero() -> None:
    # Five replicas, every slot busy with short tasks the ready replicas would reach soon. The
    # queue held six tasks for a minute but for one poll; a replica takes 40 s to start.
    spec = replace(SPEC, startup_s=40)

    def polls(empty_at: set[int]) -> tuple[tuple[float, int], ...]:
        return tuple((time, 0 if time in empty_at else 6) for time in range(0, 62, 2))

    assert waiting_seen(spec, polls({50}), 20, 5, 0.1) == 7  # (20 reserved + 6 waiting) / 4
    # Empty at three polls of the last startup: a queue that drains, discounted.
    assert waiting_seen(spec, polls({30, 40, 50}), 20, 5, 0.1) == 5


def test_a_projected_trend_asks_for_a_replica_once_it_needs_more_than_half_of_one() -> None:
    # One replica of 8 slots, full, demand rising along a line; a replica takes 40 s to start.
    spec = ScalingSpec(concurrency=8, min_replicas=1, max_replicas=4, startup_s=40)

    def after_ramp(reserved: tuple[int, ...]) -> int:
        observations = [Observation(10 * i, 0, r, 1) for i, r in enumerate(reserved)]
        desired, _ = run(observations, spec)[-1]
        return desired

    # 0.1 more tasks a second: 4 more slots in one startup, half a replica, which a swing
    # of the load gives back as often as not.
    assert after_ramp((4, 5, 6, 7, 8)) == 1
    # 0.2 a second: a whole replica more in one startup.
    assert after_ramp((0, 2, 4, 6, 8)) == 2
    # Demand that is there is met whole: 9 tasks need two replicas, trend or not.
    assert after_ramp((9, 9, 9, 9, 9)) == 2


def test_growing_demand_is_met_one_startup_ahead() -> None:
    observations = [Observation(t, 0, 2 * t // 5, 10) for t in range(0, 30, 5)]
    desired, _ = run(observations)[-1]
    # 10 tasks now, growing 2 per 5 s: sized for ~18 tasks 20 s on, not for 10.
    assert desired >= 5


def test_a_step_in_arrivals_is_met_in_one_round_not_as_the_trend_catches_up() -> None:
    # One full replica for two minutes, then the queue jumps by 40 tasks at each 2 s poll: the
    # arrival rate stepped up. The trend over two startups barely moves after two polls; the
    # queue's last rises say 20 a second, of which half is projected over the 20 s startup:
    # (4 reserved + 80 waiting + 200 more) / 4 slots.
    spec = replace(SPEC, max_replicas=100)
    quiet = [Observation(t, 0, 4, 1, 1, 0.5) for t in range(0, 120, 2)]
    step = [Observation(120, 40, 4, 1, 1, 0.5), Observation(122, 80, 4, 1, 1, 0.5)]
    desired, reason = run([*quiet, *step], spec)[-1]
    assert (desired, reason) == (71, Reason.SCALE_UP)
    # The same queue after one poll of rising: one jump is a burst, which the ready replica
    # reaches within a startup (4 slots for 20 s of 0.5 s tasks take 160).
    desired, _ = run([*quiet, step[0]], spec)[-1]
    assert desired == 1


def test_a_rising_queue_grows_at_least_at_the_slower_of_its_last_two_rises() -> None:
    recent = (Sample(0, 0.0, None, waiting=0), Sample(2, 0.0, None, waiting=30))
    assert queue_rise_per_s(Observation(6, 50, 0, 1), recent) == 5.0  # 15/s, then 5/s
    assert queue_rise_per_s(Observation(6, 20, 0, 1), recent) == 0.0  # it fell


def test_swings_of_long_tasks_are_no_trend_however_often_they_are_polled() -> None:
    # Two or three minute-long tasks running, in stretches of 20-40 s: no trend. Polled every
    # 2 s, the samples repeat each other; they are no more evidence than polls every 10 s.
    stretches = [(0, 2), (40, 3), (70, 2), (90, 3)]

    def demand_at(t: float) -> float:
        return float(next(level for start, level in reversed(stretches) if t >= start))

    for every in (2, 10):
        samples = tuple(Sample(t, demand_at(t), None) for t in range(0, 120, every))
        assert demand_growth_per_s(samples, 120, 3.0, span=120) == 0.0
    # A real ramp still is one.
    ramp = tuple(Sample(t, 2 + t / 20, None) for t in range(0, 120, 2))
    assert demand_growth_per_s(ramp, 120, 8.0, span=120) == pytest.approx(0.05)


def test_window_doubles_when_let_go_capacity_is_needed_again() -> None:
    spec = replace(SPEC, scale_down_stabilization_s=30, max_stabilization_s=240)
    burst = Observation(0, 40, 0, 1)
    state = PolicyState()
    replicas = 1
    windows = []
    for cycle in range(4):
        t0 = cycle * 60.0  # the next burst comes 20 s after the scale-down
        for obs in (
            replace(burst, time=t0),
            Observation(t0 + 40, 0, 0, replicas),  # idle since the burst: let go
            Observation(t0 + 50, 0, 0, replicas),
        ):
            decision = decide(replace(obs, replicas=replicas), spec, state)
            state, replicas = decision.state, decision.desired
        windows.append(decision.window_s)
    assert windows[0] == 30
    assert windows[-1] > windows[0]
    assert max(windows) <= 240


def test_target_wait_lets_a_young_backlog_wait() -> None:
    spec = replace(SPEC, target_wait_s=30)
    first = decide(Observation(0, 20, 4, 1), spec)
    assert first.desired == 1
    later = decide(Observation(40, 20, 4, 1), spec, first.state)
    assert later.desired == 6


@pytest.mark.parametrize(
    "kwargs",
    [
        {"concurrency": 0},
        {"concurrency": 4, "min_replicas": 5, "max_replicas": 3},
        {"concurrency": 4, "tasks_per_replica": 0},
        {"concurrency": 4, "scale_down_stabilization_s": -1},
    ],
)
def test_impossible_specs_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        ScalingSpec(**kwargs)


def test_no_scale_down_while_tasks_wait() -> None:
    watched = decide(Observation(0, 0, 4, 5), SPEC).state
    held = decide(Observation(100, 3, 4, 5), SPEC, watched)
    assert (held.desired, held.reason) == (5, Reason.STABILIZING)
    drained = decide(Observation(105, 0, 4, 5), SPEC, held.state)
    assert drained.desired < 5


def test_the_window_is_covered_at_its_mean_plus_half_a_deviation_not_its_peak() -> None:
    # mean 8, deviation 6.9: 11.5 tasks need three replicas; the peak alone would want five.
    assert covering_replicas([4, 4, 4, 20], SPEC) == 3
    assert covering_replicas([9], SPEC) == 3


def long_task_history(replicas: int) -> PolicyState:
    """A window of watching 12 tasks that have run for a minute on average (tasks of about
    two minutes: longer than the 20 s startup)."""
    state = PolicyState()
    for t in range(0, 100, 5):
        state = decide(Observation(t, 0, 12, replicas, running_mean_age_s=60.0), SPEC, state).state
    return state


@pytest.mark.parametrize(
    ("idle", "desired", "reason"),
    [
        pytest.param(0, 6, Reason.BUSY_REPLICAS, id="none-idle-none-removed"),
        pytest.param(1, 5, Reason.BUSY_REPLICAS, id="only-the-idle-one"),
        pytest.param(6, 3, Reason.SCALE_DOWN, id="enough-idle"),
        pytest.param(None, 3, Reason.SCALE_DOWN, id="idle-unknown"),
    ],
)
def test_long_tasks_remove_only_replicas_that_run_nothing(
    idle: int | None, desired: int, reason: Reason
) -> None:
    state = long_task_history(replicas=6)
    obs = Observation(100, 0, 12, 6, running_mean_age_s=60.0, idle_replicas=idle)
    decision = decide(obs, SPEC, state)
    assert (decision.desired, decision.reason) == (desired, reason)


def test_short_tasks_may_remove_busy_replicas() -> None:
    # Tasks of about 2 s end well within a startup: a busy replica leaves almost at once.
    state = PolicyState()
    for t in range(0, 100, 5):
        state = decide(Observation(t, 0, 12, 6, running_mean_age_s=1.0), SPEC, state).state
    obs = Observation(100, 0, 12, 6, running_mean_age_s=1.0, idle_replicas=0)
    assert decide(obs, SPEC, state).desired == 3


def watched(
    reserved: int, finished_per_poll: int, polls: int, every_s: float = 5.0
) -> tuple[Sample, ...]:
    return tuple(
        Sample(t * every_s, reserved, None, reserved=reserved, finished=finished_per_poll)
        for t in range(polls)
    )


def test_task_length_from_how_fast_reserved_tasks_finish() -> None:
    # 12 tasks watched, one finishing every 5 s poll: 12 x 5 / 1 = a minute each.
    samples = watched(12, 1, polls=10)
    assert task_seconds_from_finishing(samples, 50, 12, 1, span=300) == pytest.approx(60)
    # Tasks shorter than a poll all finish within one: they read as about a poll long.
    samples = watched(12, 12, polls=10)
    assert task_seconds_from_finishing(samples, 50, 12, 12, span=300) == pytest.approx(5)
    # Too few finishes (or none known) to say.
    assert task_seconds_from_finishing(watched(12, 1, polls=2), 10, 12, 1, span=300) is None
    assert task_seconds_from_finishing(watched(12, 1, polls=10), 50, 12, None, span=15) is None


def slow_finishing_history(replicas: int, waiting: int, finished: int | None = 1) -> PolicyState:
    """A window of 24 tasks reserved on 6 ready replicas, one finishing every 5 s: tasks of two
    minutes, longer than the 20 s startup (`finished` None: how fast they finish is not known).
    The running ages say the same."""
    state = PolicyState()
    for t in range(0, 100, 5):
        obs = Observation(
            t, waiting, 24, replicas, running_mean_age_s=60.0, finished_of_reserved=finished
        )
        state = decide(obs, SPEC, state).state
    return state


@pytest.mark.parametrize(
    ("waiting", "desired", "unknown"),
    [
        # 0.3 x 24 ready slots: up to 7.2 waiting tasks are left to them.
        pytest.param(7, 6, 8, id="short-queue-left-to-the-ready"),
        pytest.param(15, 8, 10, id="beyond-it-new-replicas"),
    ],
)
def test_tasks_that_outlast_a_startup_keep_a_short_standing_queue(
    waiting: int, desired: int, unknown: int
) -> None:
    obs = Observation(100, waiting, 24, 6, ready=6, running_mean_age_s=60.0, finished_of_reserved=1)
    assert decide(obs, SPEC, slow_finishing_history(6, waiting)).desired == desired
    # Without knowing how fast tasks finish, a queue that stood for a startup counts whole.
    state = slow_finishing_history(6, waiting, finished=None)
    assert decide(replace(obs, finished_of_reserved=None), SPEC, state).desired == unknown


def test_tasks_that_outlast_a_startup_let_busy_replicas_go() -> None:
    # 12 tasks on 6 replicas, none idle, no queue: covered by 3; the standing queue would refill
    # any slot freed, so the least busy replicas go instead of holding out for idle ones.
    state = PolicyState()
    for t in range(0, 100, 5):
        obs = Observation(t, 0, 12, 6, running_mean_age_s=60.0, finished_of_reserved=1)
        state = decide(obs, SPEC, state).state
    obs = Observation(
        100, 0, 12, 6, running_mean_age_s=60.0, idle_replicas=0, finished_of_reserved=1
    )
    assert (decide(obs, SPEC, state).desired, decide(obs, SPEC, state).reason) == (
        3,
        Reason.SCALE_DOWN,
    )


@pytest.mark.parametrize(("finished", "desired"), [(1, 3), (None, 4)])
def test_a_standing_queue_takes_the_swing_so_the_window_is_covered_at_its_mean(
    finished: int | None, desired: int
) -> None:
    # Reserved tasks swing between 8 and 16 (mean 12, deviation 4). Finishing one per 5 s poll,
    # they run a minute: the queue left to the ready replicas takes the swing and 12 tasks
    # need 3 replicas. Not knowing that, the window is covered at 12 + 4 / 2: 4 replicas.
    state = PolicyState()
    for t in range(0, 100, 5):
        reserved = 8 if t % 10 else 16
        obs = Observation(t, 0, reserved, 6, running_mean_age_s=1.0, finished_of_reserved=finished)
        state = decide(obs, SPEC, state).state
    obs = Observation(100, 0, 12, 6, running_mean_age_s=1.0, finished_of_reserved=finished)
    assert decide(obs, SPEC, state).desired == desired
