"""kombu's Redis transport with one client object per channel, on a real Redis: every Celery
app uses it, and a message still goes through kombu's reserve-then-acknowledge bookkeeping."""

from __future__ import annotations

import redis
from kombu.message import Message
from kombu.messaging import Consumer, Producer

from tasklane_contract.celery_config import create_celery_app
from tasklane_contract.redis_transport import Channel
from tasklane_contract.settings import Settings
from tasklane_devstack.redis_server import RedisServer


def test_one_client_per_channel_and_acks_still_bookkept(fresh_redis: RedisServer) -> None:
    app = create_celery_app(Settings(redis_url=fresh_redis.url))
    client = redis.Redis.from_url(fresh_redis.url)
    queue = app.amqp.queues["default"]
    received: list[Message] = []
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        assert isinstance(channel, Channel)
        assert channel._create_client() is channel._create_client()
        Producer(channel).publish({"n": 1}, routing_key="default", declare=[queue])
        with Consumer(
            channel, [queue], callbacks=[lambda _body, message: received.append(message)]
        ):
            connection.drain_events(timeout=5)
            assert client.hlen("unacked") == 1  # reserved, not yet acknowledged
            received[0].ack()
        assert client.hlen("unacked") == 0
    assert [m.decode() for m in received] == [{"n": 1}]
    client.close()
    app.close()
