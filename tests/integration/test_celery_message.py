"""The API builds Celery's task messages itself; they must match what Celery and kombu build."""

from __future__ import annotations

import base64
import json
from typing import Any

import redis

from tasklane_api.celery_message import MessageBuilder, event_channel
from tasklane_contract.celery_config import create_celery_app
from tasklane_contract.settings import Settings
from tasklane_devstack.redis_server import RedisServer

VARYING_HEADERS = {"origin"}  # who sent it
VARYING_PROPERTIES = {"reply_to", "delivery_tag"}  # per process / per message


def decoded(raw: bytes) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(raw)
    message["body"] = json.loads(base64.b64decode(message["body"]))
    return message


def without(mapping: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k not in keys}


def test_task_message_and_sent_event_match_celerys(fresh_redis: RedisServer) -> None:
    client = redis.Redis.from_url(fresh_redis.url)
    events = client.pubsub()
    events.subscribe(event_channel(0))
    events.get_message(timeout=1)  # the subscribe confirmation
    app = create_celery_app(Settings(redis_url=fresh_redis.url))
    kwargs = {"data": "same"}
    try:
        app.send_task(
            "text.process", kwargs=kwargs, task_id="t-1", queue="default", routing_key="default"
        )
        celery_message = decoded(client.rpop("default"))  # type: ignore[arg-type]
        celery_event = decoded(events.get_message(timeout=5)["data"])
    finally:
        app.close()

    builder = MessageBuilder()
    ours = decoded(builder.task("t-1", "text.process", kwargs, "default"))
    our_event = decoded(builder.sent_event("t-1", "text.process", kwargs, "default"))

    assert ours["body"] == celery_message["body"]
    assert ours.keys() == celery_message.keys()
    for key in ("content-type", "content-encoding"):
        assert ours[key] == celery_message[key]
    assert without(ours["headers"], VARYING_HEADERS) == without(
        celery_message["headers"], VARYING_HEADERS
    )
    assert without(ours["properties"], VARYING_PROPERTIES) == without(
        celery_message["properties"], VARYING_PROPERTIES
    )
    assert our_event["properties"]["delivery_info"] == celery_event["properties"]["delivery_info"]
    assert our_event["body"].keys() == celery_event["body"].keys()
    for key in ("type", "uuid", "name", "queue", "routing_key", "kwargs", "retries"):
        assert our_event["body"][key] == celery_event["body"][key], key
    client.close()
