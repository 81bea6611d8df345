"""Every dashboard query and every alert rule against a real Prometheus scraping a real stack:
Redis, the API, a worker, beat, celery-exporter and the autoscaler operator (against KMock's
Kubernetes emulator), driven through successes, failures, retries and a backlog no worker
consumes.

Each dashboard query, with its template variables substituted as Grafana would, parses and
returns data; every alert rule loads into Prometheus and evaluates without error, and every
metric (with the labels) it reads has data. Exceptions are listed here with their reason.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasklane_contract.celery_config import create_celery_app
from tasklane_contract.queues import ALL_QUEUES
from tasklane_contract.settings import Settings
from tasklane_devstack.exporter import exporter_command, exporter_env, find_uv
from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_server import RedisServer
from tests.autoscaler.emulated import NAMESPACE as CLUSTER_NAMESPACE
from tests.autoscaler.emulated import write_kubeconfig
from tests.observability.cluster import ThreadedCluster
from tests.observability.prometheus import (
    ALERTS_FILE,
    PrometheusServer,
    alert_rules,
    dashboards,
    panel_queries,
    substitute,
)
from tests.support.polling import eventually, wait_for_status
from tests.support.processes import ServiceProcess, start_api, start_worker

NAMESPACE = "obs-ns"
RELEASE = "obs"
SCRAPE_S = 1
# celery-exporter answers a scrape only after asking the workers (two inspect calls).
EXPORTER_SCRAPE_S = 3
VARIABLES = {
    "namespace": NAMESPACE,
    "release": RELEASE,
    "queue": ".*",  # "All"
    "task": ".*",
    "autoscaler": ".*",
    "__rate_interval": "15s",
}
# The worker consumes these; `reports` has no worker, so its tasks make a standing backlog.
CONSUMED = ("default", "email", "maintenance")

# Label matchers of alert selectors that only trouble satisfies, and which this traffic does not
# cause: the selector is checked without the matcher, and the label must exist.
TROUBLE_ONLY = {
    # Server errors need a Redis outage (tests/integration/test_redis_outage.py makes the 503s).
    'status=~"5.."': "status",
}
# Panels whose dashboard code says they may be empty, and why: the emulated pool is held at
# its maxReplicas, so its replicas never change.
EMPTY_BY_DESIGN = {("tasklane-autoscaling", "Scale changes")}


@dataclass
class Observed:
    prometheus: PrometheusServer
    started: float
    api_url: str


def _exporter(settings: Settings, log_dir: Path) -> subprocess.Popen[bytes]:
    uv = find_uv()
    assert uv, "uv runs celery-exporter in its own environment"
    return subprocess.Popen(
        exporter_command(uv, settings),
        env={**os.environ, **exporter_env(settings)},
        stdout=(log_dir / "exporter.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _scrape_config(job: str, port: int, interval_s: float) -> dict[str, Any]:
    # The labels the chart's ServiceMonitors give every target in a cluster.
    return {
        "job_name": job,
        "scrape_interval": f"{interval_s}s",
        "scrape_timeout": f"{interval_s}s",
        "static_configs": [
            {
                "targets": [f"127.0.0.1:{port}"],
                "labels": {"namespace": NAMESPACE, "release": RELEASE},
            }
        ],
    }


def _drive_traffic(http: httpx.Client, settings: Settings) -> None:
    ids = [
        http.post("/v1/tasks/text.process", json={"data": f"t{i}"}).json()["id"] for i in range(8)
    ]
    # Retried then succeeded; retried until it gives up (RetriesExhausted).
    email = {"to": "ada@example.org", "subject": "s", "body": "b"}
    retried = http.post("/v1/tasks/email.send", json={**email, "simulate_transient_failures": 1})
    exhausted = [
        http.post("/v1/tasks/email.send", json={**email, "simulate_transient_failures": 9})
        for _ in range(3)
    ]
    # Busy workers for a while.
    sleepers = [http.post("/v1/tasks/demo.sleep", json={"seconds": 2}) for _ in range(2)]
    # A standing backlog: nothing consumes `reports`.
    for _ in range(3):
        assert http.post("/v1/tasks/report.generate", json={"rows": 10}).status_code == 202
    # Refused by the API: invalid arguments, unknown task.
    assert http.post("/v1/tasks/text.process", json={"data": 5}).status_code == 422
    assert http.post("/v1/tasks/no.such.task", json={}).status_code == 404
    # A foreign producer's bad arguments fail on the worker (InvalidTaskArguments).
    app = create_celery_app(settings)
    app.send_task("text.process", kwargs={"wrong": 1}, queue="default")
    app.close()

    for task_id in ids:
        wait_for_status(http, task_id, {"SUCCESS"})
    wait_for_status(http, retried.json()["id"], {"SUCCESS"})
    for response in sleepers:
        wait_for_status(http, response.json()["id"], {"SUCCESS"})
    for response in exhausted:
        wait_for_status(http, response.json()["id"], {"FAILURE"}, timeout_s=40)


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    root = tmp_path_factory.mktemp("observed")
    started = time.time()
    # A maxmemory, as the chart gives Redis: the memory panels and alerts have a ratio to show.
    redis_server = RedisServer(free_port(), root / "redis", maxmemory="200mb").start()
    api_port, exporter_port, prometheus_port = free_port(), free_port(), free_port()
    env = {
        "TASKLANE_REDIS_URL": redis_server.url,
        "TASKLANE_WORKER_CONCURRENCY": "2",
        "TASKLANE_WORKER_QUEUES": ",".join(CONSUMED),
        "TASKLANE_BEAT_SCHEDULE": json.dumps({"cleanup-submitted-index": 2}),
    }
    settings = Settings(redis_url=redis_server.url, exporter_port=exporter_port)
    running: list[ServiceProcess] = []
    exporter = None
    prometheus = None
    # A pool for `reports` held at one replica: with the unconsumed backlog the operator wants
    # more and its bounds keep it at the maximum (TasklaneAutoscalerPinnedAtMax's condition).
    cluster = ThreadedCluster(replicas=1, queues=["reports"], concurrency=1, maxReplicas=1)
    autoscaler_port = free_port()
    try:
        exporter = _exporter(settings, root)
        running.append(start_api(env, root, api_port))
        running.append(start_worker(env, root))
        beat = ServiceProcess("beat", "tasklane_beat", env, root)
        running.append(beat)
        operator_env = {
            **env,
            "KUBECONFIG": str(write_kubeconfig(root / "kubeconfig", cluster.url)),
            "TASKLANE_AUTOSCALER_NAMESPACES": CLUSTER_NAMESPACE,
            "TASKLANE_AUTOSCALER_METRICS_PORT": str(autoscaler_port),
            "TASKLANE_AUTOSCALER_LIVENESS_PORT": str(free_port()),
        }
        running.append(ServiceProcess("autoscaler", "tasklane_autoscaler", operator_env, root))
        beat.wait_for_log("Acquired lock")
        prometheus = PrometheusServer(
            prometheus_port,
            root / "prometheus",
            [
                _scrape_config("tasklane-api", api_port, SCRAPE_S),
                _scrape_config("celery-exporter", exporter_port, EXPORTER_SCRAPE_S),
                _scrape_config("tasklane-autoscaler", autoscaler_port, SCRAPE_S),
            ],
            [ALERTS_FILE],
            SCRAPE_S,
        )
        prometheus.wait_ready()

        def exporter_up() -> bool:
            assert exporter is not None and exporter.poll() is None, root / "exporter.log"
            try:
                url = f"http://127.0.0.1:{exporter_port}/metrics"
                return httpx.get(url, timeout=10).status_code == 200
            except httpx.HTTPError:
                return False

        # The first run fetches the exporter's environment from PyPI; then it is cached.
        eventually(exporter_up, timeout_s=180, every_s=0.5)
        # Events sent before the exporter listens are lost: drive traffic once it does.
        with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=10) as http:
            _drive_traffic(http, settings)

        def scraped_it_all() -> bool:
            assert prometheus is not None
            return all(
                prometheus.query(expr)
                for expr in (
                    'up{job="celery-exporter"} == 1',
                    'up{job="tasklane-api"} == 1',
                    'celery_task_failed_total{exception="RetriesExhausted"} >= 3',
                    'celery_task_failed_total{exception="InvalidTaskArguments"} >= 1',
                    'tasklane_queue_waiting{queue="reports"} == 3',
                    'tasklane_autoscaler_backlog{queue="reports"} == 3',
                )
            )

        eventually(scraped_it_all, timeout_s=30, every_s=0.5)
        yield Observed(prometheus, started, f"http://127.0.0.1:{api_port}")
    finally:
        if prometheus is not None:
            prometheus.stop()
        if exporter is not None:
            os.killpg(exporter.pid, signal.SIGTERM)
            try:
                exporter.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(exporter.pid, signal.SIGKILL)
                exporter.wait()
        for process in reversed(running):
            process.stop()
        cluster.stop()
        redis_server.cleanup()


def _has_data(observed: Observed, expr: str) -> bool:
    end = time.time()
    series = observed.prometheus.query_range(expr, observed.started, end, SCRAPE_S)
    return any(s["values"] for s in series)


def _dashboard_queries() -> list[tuple[str, str, str]]:
    return [
        (uid, title, substitute(expr, VARIABLES))
        for uid, dashboard in sorted(dashboards().items())
        for title, expr in panel_queries(dashboard)
    ]


def _selectors(expr: str) -> list[str]:
    """The metric selectors an expression reads (our metric names, `up`), with their labels."""
    pattern = r"\b((?:tasklane|celery)_[a-z_]+|up)(\{[^}]*\})?"
    return sorted({f"{name}{labels}" for name, labels in re.findall(pattern, expr)})


@pytest.mark.slow
class TestRealPrometheus:
    def test_every_target_is_scraped(self, observed: Observed) -> None:
        def health() -> dict[str, str]:
            targets = observed.prometheus.api("targets")["activeTargets"]
            return {t["labels"]["job"]: t["health"] for t in targets}

        # A scrape of the exporter can time out on a loaded machine: the next one counts.
        wanted = {"tasklane-api": "up", "celery-exporter": "up", "tasklane-autoscaler": "up"}
        assert eventually(lambda: health() == wanted or None, timeout_s=20)

    def test_sent_tasks_are_counted_on_their_queue(self, observed: Observed) -> None:
        # The API's own task-sent events, beat's and a plain Celery producer's all name the
        # queue; without them the exporter files tasks under a queue called "celery".
        def queues() -> set[str]:
            sent = observed.prometheus.query("sum by (queue_name) (celery_task_sent_total)")
            return {s["metric"]["queue_name"] for s in sent}

        # Beat fires every 2 s: its first sent event may still be on its way to a scrape.
        try:
            eventually(lambda: queues() == set(ALL_QUEUES), timeout_s=20, every_s=0.5)
        except TimeoutError:
            pytest.fail(f"sent tasks counted on {sorted(queues())}, not {sorted(ALL_QUEUES)}")

    def test_template_variables_list_this_release(self, observed: Observed) -> None:
        for dashboard in dashboards().values():
            for variable in dashboard["templating"]["list"]:
                if variable["type"] != "query":
                    continue
                match = re.fullmatch(r"label_values\((.*), (\w+)\)", variable["query"])
                assert match, variable["query"]
                selector = substitute(match.group(1), VARIABLES)
                values = observed.prometheus.api(
                    f"label/{match.group(2)}/values", **{"match[]": selector}
                )
                assert values, f"{dashboard['uid']} ${variable['name']}: no values"
                expected = {
                    "namespace": {NAMESPACE},
                    "release": {RELEASE},
                    "queue": set(ALL_QUEUES),
                    "task": {"text.process", "email.send", "maintenance.cleanup"},
                    "autoscaler": {f"{CLUSTER_NAMESPACE}/workers"},
                }[variable["name"]]
                assert expected <= set(values), (variable["name"], values)

    def test_every_dashboard_query_returns_data(self, observed: Observed) -> None:
        queries = _dashboard_queries()
        assert len(queries) > 30

        def missing() -> list[tuple[str, str, str]]:
            return [
                (uid, title, expr)
                for uid, title, expr in queries
                if (uid, title) not in EMPTY_BY_DESIGN and not _has_data(observed, expr)
            ]

        # Scrapes and rate windows catch up with the traffic within a few seconds.
        try:
            eventually(lambda: not missing(), timeout_s=45, every_s=1)
        except TimeoutError:
            pytest.fail(f"queries without data: {json.dumps(missing(), indent=1)}")
        # The ones left out still parse and evaluate.
        for _, _, expr in queries:
            observed.prometheus.query(expr)

    def test_every_alert_rule_loads_and_evaluates(self, observed: Observed) -> None:
        def evaluated() -> list[dict[str, Any]] | None:
            groups = observed.prometheus.api("rules")["groups"]
            rules = [r for g in groups for r in g["rules"]]
            return (
                rules if all(r.get("lastEvaluation", "").startswith("2") for r in rules) else None
            )

        rules = eventually(evaluated, timeout_s=20)
        assert sorted(r["name"] for r in rules) == sorted(a["alert"] for a in alert_rules())
        for rule in rules:
            assert rule["health"] == "ok", (rule["name"], rule.get("lastError"))

    @pytest.mark.parametrize("alert", sorted(a["alert"] for a in alert_rules()))
    def test_every_metric_an_alert_reads_has_data(self, observed: Observed, alert: str) -> None:
        (rule,) = [a for a in alert_rules() if a["alert"] == alert]
        observed.prometheus.query(rule["expr"])  # parses and evaluates
        selectors = _selectors(rule["expr"])
        assert selectors, rule["expr"]
        for selector in selectors:
            for matcher, label in TROUBLE_ONLY.items():
                if matcher in selector:
                    selector = selector.replace(matcher, "").replace("{}", "")
                    selector = f"count by ({label}) ({selector})"
            assert _has_data(observed, selector), selector

    def test_the_unconsumed_backlog_meets_its_alert_condition(self, observed: Observed) -> None:
        (rule,) = [a for a in alert_rules() if a["alert"] == "TasklaneBacklogNoConsumer"]

        def alerting_queues() -> set[str]:
            return {s["metric"]["queue"] for s in observed.prometheus.query(rule["expr"])}

        assert eventually(lambda: alerting_queues() == {"reports"} or None, timeout_s=30)

    def test_the_held_pool_meets_the_pinned_at_max_condition(self, observed: Observed) -> None:
        (rule,) = [a for a in alert_rules() if a["alert"] == "TasklaneAutoscalerPinnedAtMax"]

        def pinned() -> set[str]:
            return {s["metric"]["autoscaler"] for s in observed.prometheus.query(rule["expr"])}

        assert eventually(lambda: pinned() == {f"{CLUSTER_NAMESPACE}/workers"} or None)
