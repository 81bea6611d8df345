"""Leases in Redis that say a worker's consumer is alive, renewed on a thread of their own.

Each consuming channel of a worker takes a holder id (reservations.worker_holder) the first
time it reserves a message, and the lease key of that id lives as long as the keeper renews
it: every `lease_s / RENEWALS_PER_LEASE` seconds, on its own thread and its own connection, so a
busy event loop, a long task, a long garbage collection or a reconnecting consumer does not
starve it. A channel that closes stops its lease; what it still held comes back to its queue
when the lease expires. Expiry is judged by Redis' clock (the key's TTL), never the workers'.

The keeper also knows whether its leases have been held without a break for a whole lease
length, by its own successful renewals: only then may its worker give back other workers'
reservations (after a Redis outage, every lease looks expired until its worker renews it).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable

import redis

from tasklane_contract.redis_clients import redis_client
from tasklane_contract.reservations import lease_key, worker_holder
from tasklane_contract.settings import Settings

log = logging.getLogger(__name__)

# Renewals per lease length: a lease survives this many minus one renewals in a row that fail
# (each bounded by the keeper's socket timeouts, a tenth of the lease).
RENEWALS_PER_LEASE = 5


class LeaseKeeper:
    def __init__(self, settings: Settings, lease_s: float, node: str) -> None:
        self.lease_s = lease_s
        self.lease_ms = max(1, int(lease_s * 1000))
        self.interval_s = lease_s / RENEWALS_PER_LEASE
        self.node = node
        timeout = max(0.1, lease_s / 10)
        # A client of its own with short timeouts: a renewal never waits longer than a tenth
        # of a lease, and no silent retry hides a failed one. With sentinels, of the master
        # they name, asked again at each connection.
        self.client = redis_client(
            settings,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            socket_keepalive=True,
            retry=None,
        )
        self._holders: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._held_since: float | None = None  # monotonic; None after a failed renewal
        self.on_tick: Callable[[LeaseKeeper], None] | None = None
        self.stopping = False  # set when the worker was told to stop

    # --- for channels -------------------------------------------------------------------
    def new_holder(self) -> str:
        """A fresh holder id with its lease taken (raises a Redis error if Redis is away)."""
        holder = worker_holder(self.node, os.getpid(), secrets.token_hex(4))
        self.client.set(lease_key(holder), "1", px=self.lease_ms)
        with self._lock:
            self._holders.add(holder)
        return holder

    def release(self, holder: str, *, expire_now: bool) -> None:
        """Stop renewing `holder`'s lease; with expire_now, end it at once, so whatever it
        still holds is given back by the next sweep."""
        with self._lock:
            self._holders.discard(holder)
        if expire_now:
            try:
                self.client.delete(lease_key(holder))
            except (redis.RedisError, OSError):
                log.debug("could not end lease %s; it expires by itself", holder)

    def any_holder(self) -> str | None:
        with self._lock:
            return min(self._holders) if self._holders else None

    # --- the thread ---------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tasklane-lease", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * self.interval_s + 1)
        self.client.close()

    def held_continuously(self) -> bool:
        """Every lease renewed without a failure for at least a lease length."""
        since = self._held_since
        return since is not None and time.monotonic() - since >= self.lease_s

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.renew()
            if self.on_tick is None or not self.held_continuously():
                continue
            try:
                self.on_tick(self)
            except (redis.RedisError, OSError) as exc:
                log.info("reclaim sweep skipped: %s", exc)
            except Exception:  # the sweep must never end the renewals
                log.exception("reclaim sweep failed")

    def renew(self) -> None:
        with self._lock:
            holders = sorted(self._holders)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.ping()  # with no lease to renew, still learn whether Redis answers
            for holder in holders:
                # PEXPIRE, not SET: Redis accepts it while it is out of memory.
                pipe.pexpire(lease_key(holder), self.lease_ms)
            renewed = pipe.execute()[1:]
            lapsed = [h for h, ok in zip(holders, renewed, strict=True) if not ok]
            for holder in lapsed:
                log.warning(
                    "the lease of %s had expired (this worker was frozen or cut off from Redis "
                    "for over %ss): tasks it held may run on other workers; this worker does "
                    "not acknowledge them or store their results",
                    holder,
                    self.lease_s,
                )
                self.client.set(lease_key(holder), "1", px=self.lease_ms)
        except (redis.RedisError, OSError) as exc:
            if self._held_since is not None:
                log.warning("could not renew this worker's leases: %s", exc)
            self._held_since = None
            return
        if lapsed or self._held_since is None:
            self._held_since = time.monotonic()


# The keeper of this process, installed by the worker; None elsewhere (API, beat, tests that
# consume without one), where channels reserve without a holder, as kombu does.
_keeper: LeaseKeeper | None = None


def install(keeper: LeaseKeeper | None) -> None:
    global _keeper
    _keeper = keeper


def current() -> LeaseKeeper | None:
    return _keeper
