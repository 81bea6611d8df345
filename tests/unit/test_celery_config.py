from __future__ import annotations

from tasklane_contract.catalog import CATALOG
from tasklane_contract.celery_config import celery_config, create_celery_app
from tasklane_contract.queues import ALL_QUEUES
from tasklane_contract.result_backend import SentinelResultBackend
from tasklane_contract.settings import Settings


def test_reliability_settings() -> None:
    config = celery_config(Settings(visibility_timeout_s=1234, result_expires_s=600))
    assert config["task_acks_late"] is True
    assert config["task_reject_on_worker_lost"] is True
    assert config["worker_prefetch_multiplier"] == 1
    assert config["worker_disable_prefetch"] is True
    assert config["broker_transport_options"]["visibility_timeout"] == 1234
    assert config["result_expires"].total_seconds() == 600


def test_json_only_and_events_on() -> None:
    config = celery_config(Settings())
    assert config["accept_content"] == ["json"]
    assert config["result_accept_content"] == ["json"]
    assert config["task_serializer"] == config["result_serializer"] == "json"
    assert config["task_send_sent_event"] is True
    assert config["worker_send_task_events"] is True


def test_every_task_routes_to_a_declared_queue_under_its_own_routing_key() -> None:
    config = celery_config(Settings())
    declared = {q.name: q.routing_key for q in config["task_queues"]}
    assert set(declared) == set(ALL_QUEUES)
    assert all(declared[name] == name for name in declared)
    for name, spec in CATALOG.items():
        assert config["task_routes"][name] == {"queue": spec.queue, "routing_key": spec.queue}


def test_broker_url_carries_the_password() -> None:
    config = celery_config(Settings(redis_url="redis://r:6379/0", redis_password="pw"))
    assert config["broker_url"] == config["result_backend"] == "redis://:pw@r:6379/0"


def test_with_sentinels_celery_asks_them_for_the_master() -> None:
    settings = Settings(
        redis_url="redis://any/2",
        redis_password="p@ss",
        redis_sentinels="s0:26379,s1:26380",
        redis_master_name="tasklane",
        redis_sentinel_password="sentinel-pw",
    )
    config = celery_config(settings)
    # kombu's and Celery's sentinel form: one URL per sentinel, the master's password and db.
    urls = "sentinel://:p%40ss@s0:26379/2;sentinel://:p%40ss@s1:26380/2"
    assert config["broker_url"] == config["result_backend"] == urls
    assert config["broker_transport"] == "tasklane_contract.sentinel_transport:SentinelTransport"
    for options in (config["broker_transport_options"], config["result_backend_transport_options"]):
        assert options["master_name"] == "tasklane"
        assert options["sentinel_kwargs"]["password"] == "sentinel-pw"
    app = create_celery_app(settings)
    assert isinstance(app.backend, SentinelResultBackend)
    app.close()


def test_without_sentinels_nothing_of_them_is_configured() -> None:
    config = celery_config(Settings(redis_url="redis://r:6379/0"))
    assert config["broker_transport"] == "tasklane_contract.redis_transport:Transport"
    assert config["result_backend_transport_options"] == {}
    assert "master_name" not in config["broker_transport_options"]
