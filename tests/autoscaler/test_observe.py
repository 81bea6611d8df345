"""The operator's look at Redis: backlog and running ages from one reading of `unacked`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import redis

from tasklane_autoscaler.observe import read_queues
from tasklane_autoscaler.task_ages import finished_since
from tasklane_devstack.redis_server import RedisServer


@pytest.fixture
def client(fresh_redis: RedisServer) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(fresh_redis.url) as connection:
        yield connection


def reserve(client: redis.Redis, tag: str, queue: str, delivered_at: float) -> None:
    """What kombu's Redis transport writes when a worker takes a message."""
    client.hset("unacked", tag, json.dumps([{"body": "..."}, "", queue]))
    client.zadd("unacked_index", {tag: delivered_at})


def test_backlog_and_running_age_of_the_wanted_queues_only(client: redis.Redis) -> None:
    client.rpush("default", "a", "b")
    client.rpush("default\x06\x163", "c")  # a priority list counts as waiting too
    client.rpush("email", "d")
    now = time.time()
    reserve(client, "t1", "default", now - 10)
    reserve(client, "t2", "default", now - 30)
    reserve(client, "t3", "email", now - 500)  # another pool's task: not in this pool's age
    client.hset("unacked", "t4", "not json")  # unreadable entries are skipped, not fatal

    reading = read_queues(client, ["default"])

    assert (reading.waiting, reading.reserved) == (3, 2)
    assert reading.running_mean_age_s == pytest.approx(20, abs=2)
    both = read_queues(client, ["default", "email"])
    assert (both.backlogs["email"].waiting, both.backlogs["email"].reserved) == (1, 1)
    assert both.running_mean_age_s == pytest.approx(180, abs=2)


def test_nothing_reserved_has_no_age(client: redis.Redis) -> None:
    client.rpush("default", "a")
    reading = read_queues(client, ["default"])
    assert (reading.waiting, reading.reserved, reading.running_mean_age_s) == (1, 0, None)


def test_the_tags_that_left_unacked_are_the_tasks_finished_since_the_last_poll(
    client: redis.Redis,
) -> None:
    now = time.time()
    for tag in ("t1", "t2", "t3"):
        reserve(client, tag, "default", now)
    reserve(client, "t9", "email", now)  # another pool's task
    first = read_queues(client, ["default"])
    assert first.reserved_tags == {"t1", "t2", "t3"}
    assert finished_since(None, first.reserved_tags) is None  # nothing to compare with yet

    # kombu acknowledges by removing the tag from both; a new task was reserved meanwhile.
    for tag in ("t1", "t9"):
        client.hdel("unacked", tag)
        client.zrem("unacked_index", tag)
    reserve(client, "t4", "default", now)
    second = read_queues(client, ["default"])
    assert finished_since(first.reserved_tags, second.reserved_tags) == 1
