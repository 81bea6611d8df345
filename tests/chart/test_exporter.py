"""templates/exporter/: celery-exporter with every queue listed and the password by reference."""

from __future__ import annotations

import json

from tasklane_contract.queues import ALL_QUEUES
from tests.chart.render import COMBINATIONS, Obj, containers, env_of, one, render

DEPLOYMENT = ["exporter/exporter-deployment.yaml"]


def _container(values: Obj | None = None) -> Obj:
    return next(containers(one(render(values, show_only=DEPLOYMENT), "Deployment")))


class TestExporterDeployment:
    def test_pinned_image_on_port_9808(self) -> None:
        container = _container()
        assert container["image"] == "docker.io/danihodovic/celery-exporter:0.12.2"
        assert container["ports"] == [{"name": "metrics", "containerPort": 9808, "protocol": "TCP"}]
        assert "--port=9808" in container["args"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"

    def test_lists_every_queue_of_the_contract(self) -> None:
        args = _container()["args"]
        queues = next(a for a in args if a.startswith("--queues=")).removeprefix("--queues=")
        assert sorted(queues.split(",")) == sorted(ALL_QUEUES)
        assert "--retry-interval=5" in args
        assert "--default-queue-name=default" in args

    def test_keeps_hostname_cardinality_low_under_autoscaling(self) -> None:
        args = _container()["args"]
        assert "--generic-hostname-task-sent-metric" in args
        assert "--purge-offline-worker-metrics=600" in args

    def test_broker_url_expands_the_password_from_the_secret(self) -> None:
        env = _container()["env"]
        names = [e["name"] for e in env]
        # Kubernetes expands $(VAR) only from variables defined earlier in the list.
        assert names.index("TASKLANE_REDIS_PASSWORD") < names.index("CE_BROKER_URL")
        url = env_of(_container())["CE_BROKER_URL"]["value"]
        assert url == "redis://:$(TASKLANE_REDIS_PASSWORD)@demo-tasklane-redis:6379/0"

    def test_broker_url_for_an_external_redis(self) -> None:
        url = env_of(_container(COMBINATIONS["external-redis"]))["CE_BROKER_URL"]["value"]
        assert url == "rediss://:$(TASKLANE_REDIS_PASSWORD)@redis.example:6380/2"

    def test_with_sentinels_one_url_per_sentinel_and_the_master_as_an_option(self) -> None:
        container = _container(COMBINATIONS["redis-sentinel"])
        env = env_of(container)
        names = [e["name"] for e in container["env"]]
        assert names.index("TASKLANE_REDIS_SENTINEL_PASSWORD") < names.index(
            "CE_BROKER_TRANSPORT_OPTION"
        )
        urls = env["CE_BROKER_URL"]["value"].split(";")
        assert urls == [
            f"sentinel://:$(TASKLANE_REDIS_PASSWORD)@demo-tasklane-redis-{n}"
            ".demo-tasklane-redis-headless.work.svc:26379/0"
            for n in range(3)
        ]
        # celery-exporter splits the repeated option's variable on spaces, decodes JSON values.
        options = dict(o.split("=", 1) for o in env["CE_BROKER_TRANSPORT_OPTION"]["value"].split())
        assert options["master_name"] == "tasklane"
        kwargs = json.loads(options["sentinel_kwargs"])
        assert kwargs["password"] == "$(TASKLANE_REDIS_SENTINEL_PASSWORD)"

    def test_single_replica_so_events_are_counted_once(self) -> None:
        deployment = one(render(show_only=DEPLOYMENT), "Deployment")
        assert deployment["spec"]["replicas"] == 1

    def test_can_be_switched_off(self) -> None:
        objects = render({"exporter": {"enabled": False}})
        assert not [o for o in objects if "exporter" in o["metadata"]["name"]]


class TestExporterService:
    def test_exposes_the_metrics_port(self) -> None:
        service = one(render(show_only=["exporter/exporter-service.yaml"]), "Service")
        assert service["spec"]["ports"][0]["port"] == 9808
        assert service["spec"]["selector"]["app.kubernetes.io/component"] == "exporter"


class TestExporterNetworkPolicy:
    def test_closed_unless_scrapers_are_listed(self) -> None:
        policy = one(render(show_only=["exporter/exporter-networkpolicy.yaml"]), "NetworkPolicy")
        assert policy["spec"]["ingress"] == []

    def test_listed_scrapers_reach_the_metrics_port(self) -> None:
        values = COMBINATIONS["monitoring-on"]
        policy = one(
            render(values, show_only=["exporter/exporter-networkpolicy.yaml"]), "NetworkPolicy"
        )
        (rule,) = policy["spec"]["ingress"]
        assert rule["from"] == values["networkPolicy"]["metricsFrom"]
        assert rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]
