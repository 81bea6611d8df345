"""Short spikes that keep coming, at no fixed time: a page that goes viral for a minute now and
then, a client that retries in bursts. A spike over sooner than a replica starts is gone by the
time the replicas asked for it are ready; only capacity already there serves it. So once
spikes of a size came twice within the memory, a part of the replicas they kept busy is held
between them, as a floor under the policy's answer.

A spike is load that at least doubles over the level between spikes, by whole replicas, and
falls back within `SHORT_S`. What lasts longer is a crowd: the level moved, and capacity asked
for it arrives in time to be used. A batch enqueued at once is no spike either: all of it is
there at the first poll, so the replicas asked for it are sized from the start and it waits for
its drain whatever is held (periodic batches are `surges.py`'s). Pure functions over a small
history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

JUMP_REPLICAS = 2.0  # a spike rises by this many replicas' worth of load at least
SHORT_S = 300.0  # a spike falls back within this; longer is a new level
BASE_TIME_CONSTANT_S = 300.0  # how slowly the level between spikes follows the load
AT_ONCE = 1.2  # load that never grew past this times what came at the first poll was a batch
MEMORY_S = 3600.0  # spikes this old no longer hold replicas
RECURRED = 2  # spikes of a size before replicas are held for it
FRACTION = 0.3  # of the replicas such spikes kept busy: the floor held between them
SIZES_KEPT = 8


@dataclass(frozen=True)
class OpenSpike:
    since: float
    first_load: float  # replicas' worth of load at the first poll above the level
    top_load: float
    load_seconds: float  # load over its time: its mean is the new level if it lasts
    busy_peak: float  # the most replicas its running tasks kept busy
    fell_back_at: float | None = None  # load back near the level; over once it stays there


@dataclass(frozen=True)
class SpikeHistory:
    base: float | None = None  # replicas' worth of load between spikes (a slow mean)
    seen_at: float | None = None
    open: OpenSpike | None = None
    sizes: tuple[tuple[float, float], ...] = ()  # (ended at, replicas kept busy), last spikes


def _grown(spike: OpenSpike, load: float, busy: float, seconds: float) -> OpenSpike:
    return replace(
        spike,
        top_load=max(spike.top_load, load),
        load_seconds=spike.load_seconds + load * seconds,
        busy_peak=max(spike.busy_peak, busy),
    )


def track(
    history: SpikeHistory, now: float, load: float, busy: float, startup_s: float
) -> SpikeHistory:
    """Fold one observation in. `load`: replicas' worth of reserved and waiting tasks; `busy`:
    replicas' worth of running tasks."""
    base, seen_at = history.base, history.seen_at
    if base is None or seen_at is None:
        return replace(history, base=load, seen_at=now)
    seconds = now - seen_at
    history = replace(history, seen_at=now)
    rise = max(base, JUMP_REPLICAS)
    spike = history.open
    if spike is not None:
        grown = _grown(spike, load, busy, seconds)
        fell_back_at = spike.fell_back_at
        if fell_back_at is None:
            if now - spike.since > SHORT_S:
                # Too long for a spike: the load moved, and its mean over that time is the level.
                return replace(history, base=grown.load_seconds / (now - spike.since), open=None)
            if load <= base + rise / 2:
                grown = replace(grown, fell_back_at=now)
            return replace(history, open=grown)
        if load >= base + rise:  # up again soon after: the same spike
            return replace(history, open=replace(grown, fell_back_at=None))
        # Back near the level for a while (two startups): the spike is over.
        if now - fell_back_at < max(30.0, 2 * startup_s):
            return replace(history, open=grown)
        sizes = history.sizes
        if spike.top_load > AT_ONCE * spike.first_load:
            sizes = (*sizes, (fell_back_at, spike.busy_peak))[-SIZES_KEPT:]
        history = replace(history, open=None, sizes=sizes)
    if load >= base + rise:
        return replace(history, open=OpenSpike(now, load, load, 0.0, busy))
    weight = 1 - math.exp(-seconds / BASE_TIME_CONSTANT_S)
    return replace(history, base=base + (load - base) * weight)


def held_replicas(history: SpikeHistory, now: float) -> int:
    """Replicas to hold between spikes: `FRACTION` of the busy replicas that `RECURRED` recent
    spikes reached (one large spike among small ones holds for the small); 0 before then."""
    sizes = sorted((size for ended, size in history.sizes if ended > now - MEMORY_S), reverse=True)
    if len(sizes) < RECURRED:
        return 0
    return math.ceil(FRACTION * sizes[RECURRED - 1] - 1e-9)
