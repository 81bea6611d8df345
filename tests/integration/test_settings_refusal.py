"""A process refused by its settings says in one line what to change, and never a secret.

Every tasklane process is started for real with known secrets in its environment (the Redis
password, API keys, a password inside the Redis URL) and one setting made invalid at a time;
everything it prints is searched for the secrets and for a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from tasklane_autoscaler.config import AutoscalerSettings
from tasklane_contract.settings import Settings
from tasklane_contract.settings_loading import SETTINGS_REFUSED

SECRETS = {
    "TASKLANE_REDIS_PASSWORD": "s3cretPW",
    "TASKLANE_API_KEYS": "supersecretkey,otherkey42",
    "TASKLANE_FLOWER_BASIC_AUTH": "admin:flowersecret9",
    "TASKLANE_REDIS_SENTINEL_PASSWORD": "sentinelsecret5",
    # Production: every unsafe-default check runs and passes, so the one invalid value is the
    # only refusal; the URL carries a password of its own.
    "TASKLANE_ENVIRONMENT": "production",
    "TASKLANE_REDIS_URL": "redis://:urlsecret77@127.0.0.1:1/0",
}
SECRET_VALUES = (
    "s3cretPW",
    "supersecretkey",
    "otherkey42",
    "urlsecret77",
    "flowersecret9",
    "sentinelsecret5",
)

# One invalid value for every setting that can be invalid.
INVALID = {
    "environment": "staging",
    "redis_url": "http://:urlsecret77@127.0.0.1:1/0",
    "redis_sentinels": "sentinel-0",
    "redis_min_replica_acks": "-1",
    "redis_replica_ack_timeout_s": "0",
    "api_port": "notaport",
    "rate_limit_per_minute": "-1",
    "worker_concurrency": "0",
    "visibility_timeout_s": "0",
    "result_expires_s": "1",
    "max_body_bytes": "1",
    "max_result_bytes": "1",
    "retry_after_s": "0",
    "redis_timeout_s": "0",
    "request_read_timeout_s": "0",
    "shutdown_timeout_s": "-1",
    "worker_lease_s": "0",
    "beat_schedule": "{not json",
    "exporter_port": "0",
    "flower": "maybe",
    "flower_listen_port": "0",
    "log_level": "TRACE",
}
# Any string is a valid value of these (a queue name the worker does not know is refused by
# the worker itself, naming the queue).
FREE_FORM = {
    "redis_password",
    "redis_master_name",
    "redis_sentinel_password",
    "api_host",
    "api_keys",
    "worker_queues",
    "worker_heartbeat_file",
    "beat_heartbeat_file",
    "flower_basic_auth",
}
AUTOSCALER_INVALID = {
    "metrics_port": "-1",
    "liveness_port": "65536",
    "inspect_timeout_seconds": "0",
}
AUTOSCALER_FREE_FORM = {"namespaces"}
PROCESSES = (
    "tasklane_api",
    "tasklane_worker",
    "tasklane_beat",
    "tasklane_autoscaler",
    "tasklane_flower",
)


@dataclass(frozen=True)
class Case:
    module: str
    variable: str
    env: dict[str, str]


def cases() -> list[Case]:
    found = []
    for module in (*PROCESSES, "tasklane_devstack"):
        for field, value in INVALID.items():
            variable = f"TASKLANE_{field.upper()}"
            found.append(Case(module, variable, {**SECRETS, variable: value}))
        # The checks across settings (production refusing a default), secrets set beside them.
        without_url = {k: v for k, v in SECRETS.items() if k != "TASKLANE_REDIS_URL"}
        found.append(Case(module, "TASKLANE_REDIS_URL", without_url))
        no_password = {**without_url, "TASKLANE_REDIS_URL": "redis://127.0.0.1:1/0"}
        del no_password["TASKLANE_REDIS_PASSWORD"]
        found.append(Case(module, "TASKLANE_REDIS_PASSWORD", no_password))
        sentinels = {**SECRETS, "TASKLANE_REDIS_SENTINELS": "127.0.0.1:1,127.0.0.1:2"}
        found.append(Case(module, "TASKLANE_REDIS_MASTER_NAME", sentinels))
        slow_acks = {
            **sentinels,
            "TASKLANE_REDIS_MASTER_NAME": "tasklane",
            "TASKLANE_REDIS_REPLICA_ACK_TIMEOUT_S": "60",
        }
        found.append(Case(module, "TASKLANE_REDIS_REPLICA_ACK_TIMEOUT_S", slow_acks))
    for field, value in AUTOSCALER_INVALID.items():
        variable = f"TASKLANE_AUTOSCALER_{field.upper()}"
        found.append(Case("tasklane_autoscaler", variable, {**SECRETS, variable: value}))
    return found


def run(case: Case) -> tuple[Case, int | None, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKLANE_")}
    try:
        done = subprocess.run(
            [sys.executable, "-m", case.module],
            env={**env, **case.env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # still running: it did not refuse
        return case, None, f"still running after {exc.timeout}s"
    return case, done.returncode, done.stdout + done.stderr


def test_every_setting_that_can_be_invalid_is_covered() -> None:
    assert set(INVALID) | FREE_FORM == set(Settings.model_fields)
    assert set(AUTOSCALER_INVALID) | AUTOSCALER_FREE_FORM == set(AutoscalerSettings.model_fields)


@pytest.mark.slow
def test_refusals_are_one_line_without_secrets() -> None:
    all_cases = cases()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, all_cases))
    assert len(results) == len(all_cases) > 100
    for case, code, output in results:
        where = f"{case.module} with {case.variable} invalid:\n{output}"
        assert code == SETTINGS_REFUSED, where
        for secret in SECRET_VALUES:
            assert secret not in output, where
        assert "Traceback" not in output, where
        assert len(output.strip().splitlines()) == 1, where
        assert output.startswith("refusing to start, change these settings: "), where
        assert case.variable in output, where
