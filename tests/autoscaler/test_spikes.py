"""Short spikes at no fixed time: told apart from noise, crowds and batches; once spikes of a
size recurred, part of the replicas they kept busy is held between them."""

from __future__ import annotations

import math
from dataclasses import replace

from tasklane_autoscaler.policy import Observation, PolicyState, Reason, ScalingSpec, decide
from tasklane_autoscaler.spikes import (
    FRACTION,
    MEMORY_S,
    SHORT_S,
    SpikeHistory,
    held_replicas,
    track,
)

STARTUP_S = 20.0
POLL_S = 5.0


def feed(history: SpikeHistory, start: float, loads: list[tuple[float, float]]) -> SpikeHistory:
    """One (load, busy) pair per poll from `start` on."""
    for i, (load, busy) in enumerate(loads):
        history = track(history, start + i * POLL_S, load, busy, STARTUP_S)
    return history


def quiet(polls: int, level: float = 1.0) -> list[tuple[float, float]]:
    return [(level, level)] * polls


def spike(busy_peak: float) -> list[tuple[float, float]]:
    """Arrivals over a minute: the load grows poll after poll, then drains."""
    rising = [(busy_peak * k / 4, min(busy_peak, busy_peak * k / 4)) for k in range(1, 5)]
    return [*rising, *[(busy_peak * 1.5, busy_peak)] * 8, (busy_peak / 2, busy_peak / 2)]


def test_a_short_spike_is_remembered_by_the_replicas_it_kept_busy() -> None:
    history = feed(SpikeHistory(), 0.0, quiet(40))
    history = feed(history, 200.0, spike(10.0))
    assert history.open is not None and history.sizes == ()  # not over yet
    history = feed(history, 265.0, quiet(20))
    assert [size for _, size in history.sizes] == [10.0]
    assert history.open is None
    assert held_replicas(history, 400.0) == 0  # one spike is no pattern yet


def test_noise_around_the_level_is_no_spike() -> None:
    swings = [(1.0 + 1.5 * math.sin(i), 1.0) for i in range(300)]
    history = feed(SpikeHistory(), 0.0, [(1.0, 1.0), *swings])
    assert history.sizes == () and history.open is None


def test_a_crowd_that_lasts_moves_the_level_and_its_swings_are_no_spikes() -> None:
    polls = int(3 * SHORT_S / POLL_S)  # three times as long as a spike may last
    crowd = [(20.0 + (6.0 if i % 7 == 0 else -3.0), 18.0) for i in range(polls)]
    history = feed(SpikeHistory(), 0.0, [*quiet(40), *crowd, *quiet(60)])
    assert history.sizes == ()
    # The level followed the crowd while it lasted, and is on its way back down.
    history = feed(SpikeHistory(), 0.0, [*quiet(40), *crowd])
    assert history.base is not None and history.base > 10


def test_a_batch_enqueued_at_once_is_no_spike() -> None:
    drain = [(60.0 - 5 * k, 10.0) for k in range(12)]
    history = feed(SpikeHistory(), 0.0, [*quiet(40), *drain, *quiet(20)])
    assert history.sizes == ()


def test_spikes_of_a_size_that_recurred_hold_part_of_it() -> None:
    history = feed(SpikeHistory(), 0.0, quiet(40))
    for start, size in ((200.0, 10.0), (800.0, 12.0)):
        history = feed(history, start, [*spike(size), *quiet(60)])
    assert held_replicas(history, 1200.0) == math.ceil(FRACTION * 10.0)
    # A far larger spike after them: two reached 12, not 40, so 12 is what is held for.
    history = feed(history, 1400.0, [*spike(40.0), *quiet(60)])
    assert held_replicas(history, 1800.0) == math.ceil(FRACTION * 12.0)
    assert held_replicas(history, 800.0 + 65.0 + MEMORY_S) == 0  # the two small ones lapsed


def test_policy_holds_part_of_recurring_spikes_between_them() -> None:
    spec = ScalingSpec(concurrency=4, min_replicas=1, max_replicas=40, startup_s=STARTUP_S)
    state, replicas = PolicyState(), 1
    decisions = {}
    starts = (300, 1000, 1550)  # a minute of spike now and then, on no schedule
    for t in range(0, 1540, int(POLL_S)):
        into = min((t - start for start in starts if t >= start), default=-1)
        if 0 <= into < 60:
            waiting = 20 + 8 * into // int(POLL_S)
            reserved = min(4 * replicas, 40)
        else:
            waiting, reserved = 0, 4
        obs = Observation(float(t), waiting, reserved, replicas)
        decision = decide(replace(obs, replicas=replicas), spec, state)
        state, replicas = decision.state, decision.desired
        decisions[t] = decision
    # Before the second spike one spike was seen: the pool went back to the minimum.
    assert decisions[950].desired == 1
    # After it: replicas are held between spikes, and the reason says why.
    held = decisions[1535]
    assert held.reason is Reason.SPIKE_FLOOR
    assert held.desired == math.ceil(FRACTION * 10)
