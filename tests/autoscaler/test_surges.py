"""Surges on a schedule: detected from demand jumps, their interval learned, the next one met
with replicas ready a startup ahead."""

from __future__ import annotations

from dataclasses import replace

from tasklane_autoscaler.policy import Observation, PolicyState, Reason, ScalingSpec, decide
from tasklane_autoscaler.surges import SurgeHistory, expected_replicas, period, track


def surge_at(history: SurgeHistory, at: float, peak: int) -> SurgeHistory:
    history = track(history, at - 5, demand=2, waiting=0, wanted=1, jump=16)
    history = track(history, at, demand=400, waiting=398, wanted=peak, jump=16)
    history = track(history, at + 5, demand=100, waiting=80, wanted=peak + 2, jump=16)
    return track(history, at + 30, demand=2, waiting=0, wanted=1, jump=16)


def test_a_jump_after_a_quiet_spell_is_a_surge_and_noise_is_not() -> None:
    history = SurgeHistory()
    for t, demand in enumerate([3, 5, 2, 6, 4, 9, 3]):
        history = track(history, float(t), demand=demand, waiting=0, wanted=2, jump=16)
    assert history.starts == ()
    history = surge_at(history, 100, peak=30)
    assert history.starts == (100,)
    assert history.peaks == (32,)  # the most it asked for while under way
    assert not history.under_way


def test_interval_is_learned_from_steady_surges_only() -> None:
    history = surge_at(surge_at(SurgeHistory(), 100, 30), 400, 30)
    assert period(history, shortest=80) == 300
    steady = surge_at(history, 700, 30)
    assert period(steady, shortest=80) == 300
    erratic = surge_at(history, 1000, 30)  # 600 s after the one before: no schedule
    assert period(erratic, shortest=80) is None
    assert period(history, shortest=400) is None  # too close together to be a schedule


def test_replicas_are_expected_one_startup_ahead_and_not_for_long_after() -> None:
    history = surge_at(surge_at(SurgeHistory(), 100, 30), 400, 20)
    startup = 20.0
    assert expected_replicas(history, 600, startup) == 0
    assert expected_replicas(history, 672, startup) == 22  # the smaller of the last two peaks
    assert expected_replicas(history, 700, startup) == 22
    assert expected_replicas(history, 800, startup) == 0  # it did not come: let go


def test_policy_has_replicas_ready_before_a_scheduled_surge() -> None:
    spec = ScalingSpec(concurrency=4, min_replicas=1, max_replicas=30, startup_s=20)
    state = PolicyState()
    replicas = 1
    decisions = {}
    for t in range(0, 1000, 5):
        burst = t % 300 == 100
        obs = Observation(float(t), 400 if burst else 0, 4 if burst else 1, replicas)
        decision = decide(replace(obs, replicas=replicas), spec, state)
        state, replicas = decision.state, decision.desired
        decisions[t] = decision
    # Surges at 100 and 400: the one due at 700 finds its replicas asked for 30 s ahead.
    assert decisions[670].reason is Reason.SCHEDULED_SURGE
    assert decisions[670].desired == 30
    assert decisions[650].desired < 30
