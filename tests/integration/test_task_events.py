"""The task events celery-exporter counts, read off a real Redis as a real worker sends them:
every task's received, started and succeeded events arrive, several to a message, and none is
left behind when the worker stops right after its last task."""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import redis

from tasklane_contract.celery_config import create_celery_app
from tasklane_contract.settings import Settings
from tasklane_devstack.redis_server import RedisServer
from tests.support.processes import start_worker

TASKS = 30


def task_events(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The events in one published kombu message (`task.multi` carries a list of them)."""
    envelope = json.loads(message["data"])
    body = envelope["body"]
    if envelope["properties"].get("body_encoding") == "base64":
        body = base64.b64decode(body)
    events = json.loads(body)
    return events if isinstance(events, list) else [events]


def test_every_task_event_arrives_batched(fresh_redis: RedisServer, tmp_path: Path) -> None:
    env = {"TASKLANE_REDIS_URL": fresh_redis.url, "TASKLANE_WORKER_CONCURRENCY": "2"}
    client = redis.Redis.from_url(fresh_redis.url)
    listener = client.pubsub()
    listener.psubscribe("/*.celeryev/task.*")  # kombu's fanout channels for task events
    producer = create_celery_app(Settings(redis_url=fresh_redis.url), main="producer")
    worker = start_worker(env, tmp_path)
    try:
        results = [
            producer.send_task("text.process", kwargs={"data": str(n)}) for n in range(TASKS)
        ]
        for n, result in enumerate(results):
            assert result.get(timeout=30) == {"processed_data": str(n)}
    finally:
        assert worker.stop() == 0  # at once: the last events are still in the worker's buffer
        producer.close()

    seen: dict[str, set[str]] = defaultdict(set)
    messages = 0
    while (message := listener.get_message(timeout=1)) is not None:
        if message["type"] != "pmessage":
            continue
        messages += 1
        for event in task_events(message):
            seen[event["uuid"]].add(event["type"])
    listener.close()
    client.close()

    for result in results:
        assert {"task-received", "task-started", "task-succeeded"} <= seen[result.id]
    assert messages < 3 * TASKS  # several events to a message
