"""How `make run` starts celery-exporter: every queue listed, the traps handled, and the Redis
password in the environment, never on the command line (where `ps` shows it)."""

from __future__ import annotations

import json

from pydantic import SecretStr

from tasklane_contract.queues import ALL_QUEUES
from tasklane_contract.settings import Settings
from tasklane_devstack.exporter import EXPORTER_PACKAGE, exporter_command, exporter_env


def _settings() -> Settings:
    return Settings(
        redis_url="redis://cache.example:6380/2",
        redis_password=SecretStr("s3cret"),
        exporter_port=9999,
    )


def test_runs_the_pinned_exporter_in_its_own_environment() -> None:
    command = exporter_command("/usr/bin/uv", _settings())
    assert command[:4] == ["/usr/bin/uv", "tool", "run", "--quiet"]
    assert command[command.index("--from") + 1] == EXPORTER_PACKAGE
    assert "==" in EXPORTER_PACKAGE


def test_lists_every_queue_and_handles_the_known_traps() -> None:
    command = exporter_command("uv", _settings(), host="0.0.0.0")
    assert f"--queues={','.join(ALL_QUEUES)}" in command
    assert "--port=9999" in command and "--host=0.0.0.0" in command
    assert "--retry-interval=5" in command
    assert "--generic-hostname-task-sent-metric" in command
    assert "--purge-offline-worker-metrics=600" in command


def test_the_password_goes_in_the_environment_only() -> None:
    settings = _settings()
    assert not any("s3cret" in part for part in exporter_command("uv", settings))
    assert exporter_env(settings) == {"CE_BROKER_URL": "redis://:s3cret@cache.example:6380/2"}


def test_with_sentinels_the_exporter_asks_them_for_the_master() -> None:
    settings = Settings(
        redis_url="redis://any/0",
        redis_password=SecretStr("s3cret"),
        redis_sentinels="127.0.0.1:26379,127.0.0.1:26380",
        redis_master_name="tasklane",
        redis_sentinel_password=SecretStr("with space"),
    )
    env = exporter_env(settings)
    assert env["CE_BROKER_URL"] == (
        "sentinel://:s3cret@127.0.0.1:26379/0;sentinel://:s3cret@127.0.0.1:26380/0"
    )
    # Click splits the repeated option's variable on whitespace, the exporter decodes JSON.
    options = dict(option.split("=", 1) for option in env["CE_BROKER_TRANSPORT_OPTION"].split())
    assert options["master_name"] == "tasklane"
    assert json.loads(options["sentinel_kwargs"])["password"] == "with space"
    assert not any("s3cret" in part or "space" in part for part in exporter_command("uv", settings))
