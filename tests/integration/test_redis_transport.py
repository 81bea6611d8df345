"""tasklane's Redis transport on a real Redis: kombu's keys and recovery, fewer round trips.

Every Celery app uses it (the worker's consumer above all); the worker tests run real tasks
through it, these look at what it leaves in Redis and which commands it sends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from celery import Celery
from kombu.connection import Connection
from kombu.message import Message
from kombu.messaging import Consumer, Producer

from tasklane_contract import leases
from tasklane_contract.celery_config import create_celery_app
from tasklane_contract.leases import LeaseKeeper
from tasklane_contract.records import requeued_key, result_key
from tasklane_contract.redis_transport import (
    FETCH_AND_RESERVE,
    UNREADABLE_KEY,
    Channel,
    envelope,
)
from tasklane_contract.reservations import (
    HOLDER_PROPERTY,
    HOLDERS_KEY,
    REQUEUED_TOTAL_KEY,
    holder_record,
    lease_key,
)
from tasklane_contract.settings import Settings
from tasklane_devstack.redis_server import RedisServer
from tests.support.memory import fill_to_maxmemory, free, is_full


@pytest.fixture
def app(fresh_redis: RedisServer) -> Iterator[Celery]:
    app = create_celery_app(Settings(redis_url=fresh_redis.url))
    yield app
    app.close()


@pytest.fixture
def client(fresh_redis: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(fresh_redis.url)
    yield client
    client.close()


def calls(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(s["calls"]) for name, s in stats.items()}


def publish(connection: Connection, app: Celery, bodies: list[dict[str, int]], **kw: int) -> None:
    queue = app.amqp.queues["default"]
    producer = Producer(connection.default_channel)
    for body in bodies:
        producer.publish(body, routing_key="default", declare=[queue], **kw)


def test_one_client_per_channel(app: Celery) -> None:
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        assert isinstance(channel, Channel)
        assert channel._create_client() is channel._create_client()


def test_a_backlog_is_fetched_and_reserved_by_one_script_and_acks_ride_along(
    app: Celery, client: redis.Redis
) -> None:
    received: list[Message] = []
    with app.connection_for_write() as connection:
        publish(connection, app, [{"n": 1}, {"n": 2}, {"n": 3}])
        channel = connection.default_channel
        channel.basic_qos(0, 1, False)  # one message at a time, as a worker process takes it
        with Consumer(
            channel,
            [app.amqp.queues["default"]],
            callbacks=[lambda _body, message: received.append(message)],
        ):
            before = calls(client)
            connection.drain_events(timeout=5)
            assert [m.decode() for m in received] == [{"n": 1}]
            tag = received[0].delivery_tag
            # Reserved the way kombu reserves: [message, exchange, routing key], in the index.
            stored = json.loads(client.hget("unacked", tag) or b"null")
            info = received[0].delivery_info
            assert stored[1:] == [info["exchange"], info["routing_key"]]
            assert stored[0]["properties"] == received[0].properties
            assert stored[0]["headers"] == received[0].headers
            assert client.zscore("unacked_index", tag) is not None
            assert client.llen("default") == 2

            received[0].ack()  # recorded at once: the consumer may take the next message
            assert client.hexists("unacked", tag)  # sent with the next round trip
            connection.drain_events(timeout=5)
            assert [m.decode() for m in received] == [{"n": 1}, {"n": 2}]
            assert not client.hexists("unacked", tag)
            assert client.zscore("unacked_index", tag) is None

            received[1].ack()
            connection.drain_events(timeout=5)
            used = {name: n - before.get(name, 0) for name, n in calls(client).items()}
            # Each fetch of the backlog was one script: no BRPOP and no MULTI transactions.
            assert used.get("eval") == 3
            assert used.get("multi", 0) == 0
            assert used.get("brpop", 0) == 0
            received[2].ack()
    assert [m.decode() for m in received] == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert client.hlen("unacked") == 0  # the last ack went out when the consumer stopped
    assert client.zcard("unacked_index") == 0


def test_fetch_takes_the_highest_priority_first_then_waits_in_brpop(
    app: Celery, client: redis.Redis
) -> None:
    received: list[object] = []

    def take(body: object, message: Message) -> None:
        received.append(body)
        message.ack()

    with app.connection_for_write() as connection:
        publish(connection, app, [{"n": 1}], priority=6)
        publish(connection, app, [{"n": 2}], priority=0)
        channel = connection.default_channel
        channel.basic_qos(0, 1, False)
        with Consumer(
            channel,
            [app.amqp.queues["default"]],
            callbacks=[take],
        ):
            connection.drain_events(timeout=5)
            connection.drain_events(timeout=5)
            assert received == [{"n": 2}, {"n": 1}]
            # Empty now: the next fetch blocks in BRPOP, and a new message still arrives.
            before = calls(client).get("brpop", 0)
            with pytest.raises(TimeoutError):
                connection.drain_events(timeout=0.3)
            with Connection(app.conf.broker_url) as other:
                publish(other, app, [{"n": 3}])
            connection.drain_events(timeout=5)
            assert received[-1] == {"n": 3}
            assert calls(client).get("brpop", 0) > before
    assert client.hlen("unacked") == 0


def test_unacknowledged_messages_go_back_when_the_consumer_closes(
    app: Celery, client: redis.Redis
) -> None:
    with app.connection_for_write() as connection:
        publish(connection, app, [{"n": 1}, {"n": 2}])
        channel = connection.default_channel
        channel.basic_qos(0, 2, False)
        with Consumer(channel, [app.amqp.queues["default"]], callbacks=[lambda *_: None]):
            connection.drain_events(timeout=5)
            connection.drain_events(timeout=5)
            assert client.hlen("unacked") == 2
            assert client.llen("default") == 0
    assert client.llen("default") == 2
    assert client.hlen("unacked") == 0


def test_no_ack_consumers_keep_kombus_fetch(app: Celery, client: redis.Redis) -> None:
    received: list[object] = []
    with app.connection_for_write() as connection:
        publish(connection, app, [{"n": 1}])
        channel = connection.default_channel
        channel.basic_qos(0, 1, False)
        with Consumer(
            channel,
            [app.amqp.queues["default"]],
            no_ack=True,
            callbacks=[lambda body, _message: received.append(body)],
        ):
            connection.drain_events(timeout=5)
    assert received == [{"n": 1}]
    assert calls(client).get("eval", 0) == 0
    assert client.hlen("unacked") == 0  # nothing to acknowledge, nothing left behind


def test_a_channel_fetches_by_script_again_once_its_no_ack_consumer_is_gone(
    app: Celery, client: redis.Redis
) -> None:
    received: list[object] = []
    with app.connection_for_write() as connection:
        publish(connection, app, [{"n": 1}, {"n": 2}])
        channel = connection.default_channel
        channel.basic_qos(0, 1, False)
        queue = [app.amqp.queues["default"]]

        def take(body: object, message: Message) -> None:
            received.append(body)
            message.ack()

        with Consumer(
            channel,
            queue,
            no_ack=True,
            callbacks=[lambda body, _message: received.append(body)],
        ):
            connection.drain_events(timeout=5)
        assert calls(client).get("eval", 0) == 0
        with Consumer(channel, queue, callbacks=[take]):
            connection.drain_events(timeout=5)
    assert received == [{"n": 1}, {"n": 2}]
    assert calls(client).get("eval", 0) >= 1


def test_acks_sent_with_a_fetch_that_never_reached_redis_are_sent_again(
    app: Celery, client: redis.Redis
) -> None:
    """The fetch connection drops while its script waits (Redis paused writes): the acks it
    carried are not lost, so the acknowledged message is not redelivered."""
    received: list[Message] = []
    with app.connection_for_write() as connection:
        publish(connection, app, [{"n": 1}, {"n": 2}])
        channel = connection.default_channel
        channel.basic_qos(0, 1, False)
        with Consumer(
            channel,
            [app.amqp.queues["default"]],
            callbacks=[lambda _body, message: received.append(message)],
        ):
            connection.drain_events(timeout=5)
            received[0].ack()  # deferred: it rides with the next fetch
            client.execute_command("CLIENT", "PAUSE", 5000, "WRITE")
            try:
                channel._brpop_start()  # the fetch script, with the ack, held by the pause
                channel.client.connection.disconnect()
            finally:
                client.execute_command("CLIENT", "UNPAUSE")
    assert [m.decode() for m in received] == [{"n": 1}]
    assert client.llen("default") == 1  # {"n": 2} only: {"n": 1} was acknowledged
    assert client.hlen("unacked") == 0


def test_a_channel_closed_under_its_consumer_fails_as_a_connection_error(app: Celery) -> None:
    """After a connection error Celery closes the connection again, and the channel then has
    no address to build a pool from. Sending what is left (acks, restores) must fail as a
    connection error, which kombu and Celery pass over, not stop the worker."""
    connection = app.connection_for_write()
    channel = connection.default_channel
    channel._create_client()
    channel._disconnect_pools()
    connection.close()
    with pytest.raises(redis.ConnectionError):
        channel._create_client()


def test_a_message_without_kombus_envelope_is_set_aside(client: redis.Redis) -> None:
    client.lpush("default", "not json", json.dumps({"body": "no properties"}))
    fetch = client.register_script(FETCH_AND_RESERVE)
    keys = ["unacked", "unacked_index", UNREADABLE_KEY, HOLDERS_KEY, "default"]
    for expected in (b"not json", b'{"body": "no properties"}'):
        assert fetch(keys=keys, args=[0, "", 0]) == [1, expected, 0]
    assert fetch(keys=keys, args=[0, "", 0]) is None
    assert client.hlen("unacked") == 0
    assert client.lrange(UNREADABLE_KEY, 0, -1) == [b'{"body": "no properties"}', b"not json"]


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"properties": {"delivery_tag": 1}}'])
def test_envelope_rule_matches_the_script(raw: bytes) -> None:
    assert envelope(raw) is None


def test_envelope_of_a_kombu_message(app: Celery, client: redis.Redis) -> None:
    with app.connection_for_write() as connection:
        publish(connection, app, [{"n": 1}])
    raw = client.lindex("default", 0)
    assert raw is not None
    message = envelope(raw)
    assert message is not None
    assert message["properties"]["delivery_info"]["routing_key"] == "default"


@pytest.fixture
def keeper(fresh_redis: RedisServer) -> Iterator[LeaseKeeper]:
    """This process as a worker: its consuming channels reserve under a leased holder id."""
    keeper = LeaseKeeper(Settings(redis_url=fresh_redis.url), lease_s=30, node="test@host")
    leases.install(keeper)
    yield keeper
    leases.install(None)
    keeper.client.close()


def holder_of(client: redis.Redis, tag: str) -> str | None:
    record = client.hget(HOLDERS_KEY, tag)
    if record is None:
        return None
    text = record.decode() if isinstance(record, bytes) else record
    return text.split("\n", 1)[0]


@contextmanager
def collecting(connection: Connection, app: Celery, received: list[Message]) -> Iterator[Any]:
    """A consumer of `default` that takes one message at a time, as a worker process does, and
    keeps each message it receives; yields its channel."""
    channel = connection.default_channel
    channel.basic_qos(0, 1, False)
    with Consumer(
        channel,
        [app.amqp.queues["default"]],
        callbacks=[lambda _body, message: received.append(message)],
    ):
        yield channel


def test_every_reservation_records_its_holder_and_the_holder_fences_the_ack(
    app: Celery, client: redis.Redis, keeper: LeaseKeeper
) -> None:
    received: list[Message] = []
    with app.connection_for_write() as connection:
        publish(connection, app, [{"n": 1}, {"n": 2}])
        with collecting(connection, app, received) as channel:
            connection.drain_events(timeout=5)  # by the fetch script
            first = received[0]
            holder = channel.holder
            assert holder.startswith("test@host/")
            assert client.pttl(lease_key(holder)) > 0
            assert holder_of(client, first.delivery_tag) == holder
            assert first.properties[HOLDER_PROPERTY] == holder  # for the task's result writes
            # The first was given to another worker while this one was cut off: its ack must
            # leave the other worker's reservation alone.
            client.hset(HOLDERS_KEY, first.delivery_tag, holder_record("other", 1, "default"))
            first.ack()
            connection.drain_events(timeout=5)  # the ack rides with this fetch
            assert client.hexists("unacked", first.delivery_tag)
            assert holder_of(client, first.delivery_tag) == "other"
            second = received[1]
            assert holder_of(client, second.delivery_tag) == holder
            second.ack()
        assert not client.hexists("unacked", second.delivery_tag)
        assert not client.hexists(HOLDERS_KEY, second.delivery_tag)
    assert client.exists(lease_key(holder)) == 0  # the closed channel ended its lease


def test_a_message_taken_by_brpop_is_reserved_under_the_holder(
    app: Celery, client: redis.Redis, keeper: LeaseKeeper
) -> None:
    received: list[Message] = []
    with (
        app.connection_for_write() as connection,
        collecting(connection, app, received) as channel,
    ):
        with pytest.raises(TimeoutError):
            connection.drain_events(timeout=0.3)  # empty: now waiting in BRPOP
        with Connection(app.conf.broker_url) as other:
            publish(other, app, [{"n": 1}])
        connection.drain_events(timeout=5)
        tag = received[0].delivery_tag
        assert holder_of(client, tag) == channel.holder
        entry = json.loads(client.hget("unacked", tag) or b"null")
        info = received[0].delivery_info
        assert entry[1:] == [info["exchange"], info["routing_key"]]
        assert entry[0]["properties"]["delivery_tag"] == tag


def test_a_closing_channel_gives_back_what_it_holds_marked_for_the_api(
    app: Celery, client: redis.Redis, keeper: LeaseKeeper
) -> None:
    with app.connection_for_write() as connection:
        producer = Producer(connection.default_channel)
        producer.publish(
            {"n": 1},
            routing_key="default",
            declare=[app.amqp.queues["default"]],
            headers={"id": "task-1"},
        )
        client.set(result_key("task-1"), json.dumps({"status": "STARTED"}))
        channel = connection.default_channel
        channel.basic_qos(0, 1, False)
        keeper.stopping = True
        with Consumer(channel, [app.amqp.queues["default"]], callbacks=[lambda *_: None]):
            connection.drain_events(timeout=5)
            assert client.llen("default") == 0
    assert client.llen("default") == 1
    assert client.hlen("unacked") == 0
    assert client.hlen(HOLDERS_KEY) == 0
    assert client.get(result_key("task-1")) is None  # waiting again, not STARTED
    marker = json.loads(client.get(requeued_key("task-1")) or b"null")
    assert (marker["reason"], marker["times"]) == ("shutdown", 1)
    assert client.hgetall(REQUEUED_TOTAL_KEY) == {b"shutdown\ndefault": b"1"}


def test_fetching_and_acknowledging_go_on_while_redis_is_full(
    app: Celery, client: redis.Redis, keeper: LeaseKeeper
) -> None:
    received: list[Message] = []
    with app.connection_for_write() as connection:
        publish(connection, app, [{"n": 1}, {"n": 2}])
        with collecting(connection, app, received) as channel:
            connection.drain_events(timeout=5)
            fillers = fill_to_maxmemory(client)
            try:
                received[0].ack()
                connection.drain_events(timeout=5)  # a fetch and an ack: a move and a delete
                received[1].ack()
                channel.qos.flush_acks()
                assert client.hlen("unacked") == 0
                assert client.llen("default") == 0
                assert is_full(client)
            finally:
                free(client, fillers)
    assert [m.decode() for m in received] == [{"n": 1}, {"n": 2}]


def test_a_message_brpop_took_is_reserved_even_while_redis_is_full(
    app: Celery, client: redis.Redis, keeper: LeaseKeeper
) -> None:
    """Refusing it would lose the message: BRPOP has already taken it from its list."""
    received: list[Message] = []
    with (
        app.connection_for_write() as connection,
        collecting(connection, app, received),
    ):
        with pytest.raises(TimeoutError):
            connection.drain_events(timeout=0.3)  # empty: now waiting in BRPOP
        with Connection(app.conf.broker_url) as other:
            publish(other, app, [{"n": 1}])  # BRPOP takes it; its reply waits in the socket
        fillers = fill_to_maxmemory(client)
        try:
            connection.drain_events(timeout=5)  # read the reply, reserve it: Redis is full
            assert is_full(client)
            assert client.hexists("unacked", received[0].delivery_tag)
            assert client.hexists(HOLDERS_KEY, received[0].delivery_tag)
        finally:
            free(client, fillers)
