"""Celery task messages (protocol 2) and task-sent events, built as the bytes kombu's Redis
transport stores, so a submission is one pipeline to Redis instead of a trip through kombu's
producer, channel and the result backend's subscription for every task.

The layout is Celery's, documented under "Message Protocol" in Celery's internals guide;
tests compare it with what kombu itself produces, and every integration test runs real
workers on messages built here."""

from __future__ import annotations

import base64
import os
import socket
import time
import uuid
from typing import Any

import orjson

EVENT_EXCHANGE = "celeryev"
EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
REPR_LIMIT = 1024  # Celery truncates argsrepr/kwargsrepr for display the same way


def _envelope(body: Any, headers: dict[str, Any], properties: dict[str, Any]) -> bytes:
    encoded = base64.b64encode(orjson.dumps(body)).decode()
    tag = str(uuid.uuid4())
    return orjson.dumps(
        {
            "body": encoded,
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": headers,
            "properties": {
                **properties,
                "body_encoding": "base64",
                "delivery_tag": tag,
            },
        }
    )


class MessageBuilder:
    """Per-process constants made once; one call per submission builds both messages."""

    def __init__(self) -> None:
        self.hostname = f"api{os.getpid()}@{socket.gethostname()}"
        self.pid = os.getpid()
        self.reply_to = str(uuid.uuid4())
        self.utcoffset = -time.timezone / 3600
        self.clock = 0

    def task(self, task_id: str, name: str, kwargs: dict[str, Any], queue: str) -> bytes:
        headers: dict[str, Any] = {
            "lang": "py",
            "task": name,
            "id": task_id,
            "shadow": None,
            "eta": None,
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": 0,
            "timelimit": [None, None],
            "root_id": task_id,
            "parent_id": None,
            "argsrepr": "()",
            "kwargsrepr": kwargs_repr(kwargs),
            "origin": self.hostname,
            "ignore_result": None,
            "replaced_task_nesting": 0,
            "stamped_headers": None,
            "stamps": {},
        }
        properties = {
            "correlation_id": task_id,
            "reply_to": self.reply_to,
            "delivery_mode": 2,  # persistent
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
        }
        return _envelope([[], kwargs, EMBED], headers, properties)

    def sent_event(self, task_id: str, name: str, kwargs: dict[str, Any], queue: str) -> bytes:
        """The `task-sent` event celery-exporter counts, as `task_send_sent_event` sends it."""
        self.clock += 1
        body = {
            "hostname": self.hostname,
            "utcoffset": self.utcoffset,
            "pid": self.pid,
            "clock": self.clock,
            "uuid": task_id,
            "root_id": task_id,
            "parent_id": None,
            "name": name,
            "args": "()",
            "kwargs": kwargs_repr(kwargs),
            "retries": 0,
            "eta": None,
            "expires": None,
            "queue": queue,
            "exchange": "",
            "routing_key": queue,
            "timestamp": time.time(),
            "type": "task-sent",
        }
        properties = {
            "delivery_mode": 1,
            "delivery_info": {"exchange": EVENT_EXCHANGE, "routing_key": "task.sent"},
            "priority": 0,
        }
        return _envelope(body, {"hostname": self.hostname}, properties)


def kwargs_repr(kwargs: dict[str, Any]) -> str:
    text = repr(kwargs)
    return text if len(text) <= REPR_LIMIT else text[: REPR_LIMIT - 3] + "..."


def event_channel(db: int) -> str:
    """kombu's Redis fanout: PUBLISH on `/<db>.<exchange>/<routing key>`."""
    return f"/{db}.{EVENT_EXCHANGE}/task.sent"
