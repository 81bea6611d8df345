from __future__ import annotations

import pytest
from pydantic import ValidationError

from tasklane_contract.settings import Settings
from tasklane_contract.settings_loading import SETTINGS_REFUSED, load_settings


def test_reads_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKLANE_REDIS_URL", "redis://cache:6380/2")
    monkeypatch.setenv("TASKLANE_API_PORT", "9000")
    monkeypatch.setenv("TASKLANE_WORKER_QUEUES", "default, email")
    monkeypatch.setenv("TASKLANE_BEAT_SCHEDULE", '{"cleanup-submitted-index": "*/5 * * * *"}')
    settings = Settings()
    assert settings.redis_url == "redis://cache:6380/2"
    assert settings.api_port == 9000
    assert settings.worker_queues == ("default", "email")
    assert settings.beat_schedule == {"cleanup-submitted-index": "*/5 * * * *"}


def test_rejects_bad_values_with_the_field_named() -> None:
    with pytest.raises(ValidationError, match="redis_url"):
        Settings(redis_url="http://nope")
    with pytest.raises(ValidationError, match="api_port"):
        Settings(api_port=0)


def test_production_refuses_the_development_defaults() -> None:
    with pytest.raises(ValidationError, match="must be set explicitly"):
        Settings(environment="production")
    with pytest.raises(ValidationError, match="needs a password"):
        Settings(environment="production", redis_url="redis://redis:6379/0")
    ok = Settings(
        environment="production", redis_url="redis://redis:6379/0", redis_password="s3cret"
    )
    assert ok.broker_url == "redis://:s3cret@redis:6379/0"


def test_password_is_quoted_into_the_url_and_never_displayed() -> None:
    settings = Settings(redis_url="redis://redis:6379/1", redis_password="p@ss/w:rd")
    assert settings.broker_url == "redis://:p%40ss%2Fw%3Ard@redis:6379/1"
    assert "p@ss" not in settings.redis_display
    assert settings.redis_display == "redis://:***@redis:6379/1"
    assert "p@ss" not in repr(settings)
    inline = Settings(redis_url="redis://user:hunter2@redis:6379/0")
    assert inline.redis_display == "redis://user:***@redis:6379/0"


def test_kubernetes_service_links_are_not_read_as_settings(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A release named tasklane has a Service tasklane-api, whose link variable is
    TASKLANE_API_PORT=tcp://...: it is dropped with a warning naming it, not a crash."""
    monkeypatch.setenv("TASKLANE_API_PORT", "tcp://10.105.117.116:80")
    monkeypatch.setenv("TASKLANE_EXPORTER_PORT", "tcp://10.111.96.63:9808")
    monkeypatch.setenv("TASKLANE_WORKER_CONCURRENCY", "7")
    with caplog.at_level("WARNING"):
        settings = Settings()
    assert (settings.api_port, settings.exporter_port) == (8000, 9808)
    assert settings.worker_concurrency == 7
    assert "TASKLANE_API_PORT=tcp://10.105.117.116:80" in caplog.text
    assert "TASKLANE_EXPORTER_PORT" in caplog.text
    # A port that is simply wrong is still an error naming the field.
    monkeypatch.setenv("TASKLANE_API_PORT", "http")
    with pytest.raises(ValidationError, match="api_port"):
        Settings()


def test_a_refusal_names_the_variables_and_repeats_no_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TASKLANE_ENVIRONMENT", "production")
    monkeypatch.setenv("TASKLANE_API_KEYS", "supersecretkey")
    monkeypatch.setenv("TASKLANE_REDIS_URL", "http://:urlsecret@redis:6379/0")
    monkeypatch.setenv("TASKLANE_API_PORT", "0")
    with pytest.raises(SystemExit) as exited:
        load_settings(Settings)
    assert exited.value.code == SETTINGS_REFUSED
    err = capsys.readouterr().err
    assert err == (
        "refusing to start, change these settings: "
        "TASKLANE_REDIS_URL: must start with redis://, rediss:// or unix://; "
        "TASKLANE_API_PORT: Input should be greater than or equal to 1\n"
    )


def test_the_sentinel_form_names_the_sentinels_and_the_master(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASKLANE_REDIS_SENTINELS", "redis-0.redis:26379, redis-1.redis:26379")
    monkeypatch.setenv("TASKLANE_REDIS_MASTER_NAME", "tasklane")
    monkeypatch.setenv("TASKLANE_REDIS_URL", "redis://tasklane/3")
    monkeypatch.setenv("TASKLANE_REDIS_PASSWORD", "s3cret")
    monkeypatch.setenv("TASKLANE_REDIS_SENTINEL_PASSWORD", "other")
    settings = Settings()
    assert settings.redis_sentinels == ("redis-0.redis:26379", "redis-1.redis:26379")
    assert settings.redis_display == (
        "master 'tasklane' of the sentinels redis-0.redis:26379,redis-1.redis:26379, database 3"
    )
    assert "s3cret" not in settings.redis_display and "other" not in repr(settings)


def test_the_sentinel_form_refuses_what_cannot_work() -> None:
    with pytest.raises(ValidationError, match="TASKLANE_REDIS_MASTER_NAME"):
        Settings(redis_sentinels="sentinel:26379")
    with pytest.raises(ValidationError, match="every sentinel must be host:port"):
        Settings(redis_sentinels="sentinel", redis_master_name="m")
    with pytest.raises(ValidationError, match="every sentinel must be host:port"):
        Settings(redis_sentinels="sentinel:99999", redis_master_name="m")
    with pytest.raises(ValidationError, match="TLS and sockets"):
        Settings(redis_sentinels="s:26379", redis_master_name="m", redis_url="rediss://x/0")
    # The URL names no host that matters: production does not ask for one.
    production = Settings(
        environment="production",
        redis_sentinels="s:26379",
        redis_master_name="m",
        redis_password="pw",
    )
    assert production.redis_sentinels == ("s:26379",)
    with pytest.raises(ValidationError, match="needs a password"):
        Settings(environment="production", redis_sentinels="s:26379", redis_master_name="m")


def test_replica_acknowledgements_default_to_one_with_sentinels_and_none_without() -> None:
    assert Settings().replica_acks == 0
    assert Settings(redis_sentinels="s:26379", redis_master_name="m").replica_acks == 1
    assert (
        Settings(
            redis_sentinels="s:26379", redis_master_name="m", redis_min_replica_acks=0
        ).replica_acks
        == 0
    )
    assert Settings(redis_min_replica_acks=2).replica_acks == 2
    # The API's socket must outwait WAIT's timeout, or an answer on its way is cut off.
    with pytest.raises(ValidationError, match="below TASKLANE_REDIS_TIMEOUT_S"):
        Settings(redis_min_replica_acks=1, redis_replica_ack_timeout_s=2.0, redis_timeout_s=2.0)
    Settings(redis_min_replica_acks=0, redis_replica_ack_timeout_s=2.0, redis_timeout_s=2.0)
