"""The plain decisions behind a worker's stop and its sweep."""

from __future__ import annotations

from dataclasses import dataclass

from tasklane_contract.leases import LeaseKeeper
from tasklane_contract.reservations import reserve_popped_script
from tasklane_contract.settings import Settings
from tasklane_worker.reclaim import may_sweep
from tasklane_worker.shutdown import unfinished_pids


@dataclass
class Request:
    id: str
    worker_pid: int | None
    acknowledged: bool = False


def test_the_deadline_ends_only_processes_whose_task_is_unfinished() -> None:
    requests = [
        Request("running", 101),
        Request("acknowledged", 102, acknowledged=True),
        Request("succeeded", 103),  # done, its ack not yet sent
        Request("not started", None),
    ]
    assert unfinished_pids(requests, {"succeeded"}) == {101}


def test_a_worker_sweeps_only_after_a_lease_of_unbroken_renewals_on_a_redis_up_that_long() -> None:
    keeper = LeaseKeeper(Settings(redis_url="redis://127.0.0.1:1/0"), lease_s=10, node="w@h")
    assert not may_sweep(keeper, redis_uptime_s=3600)  # never renewed yet
    keeper._held_since = 0.0  # renewing without a break since long ago
    assert may_sweep(keeper, redis_uptime_s=3600)
    assert not may_sweep(keeper, redis_uptime_s=5)  # Redis restarted: its leases may be stale
    keeper.client.close()


def test_the_brpop_reservation_is_flagged_allow_oom_only_where_redis_knows_flags() -> None:
    assert reserve_popped_script("7.0.15").startswith("#!lua flags=allow-oom\n")
    assert reserve_popped_script("8.2.2").startswith("#!lua flags=allow-oom\n")
    assert not reserve_popped_script("6.2.14").startswith("#!")
