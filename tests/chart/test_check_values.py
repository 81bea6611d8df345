"""templates/check-values.yaml: combinations the schema cannot express fail the render with a
message that says what to change."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest

from tests.chart.render import CHART_DIR, render


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"redis": {"enabled": False}}, "set externalRedis.url"),
        (
            {"redis": {"enabled": False}, "externalRedis": {"url": "redis://r:6379/0"}},
            "set externalRedis.existingSecret",
        ),
        (
            {
                "redis": {"enabled": False},
                "externalRedis": {"url": "redis://:hunter2@r:6379/0", "existingSecret": "s"},
            },
            "must not contain a password",
        ),
        (
            {
                "redis": {"enabled": False},
                "externalRedis": {"url": "http://r:6379/0", "existingSecret": "s"},
            },
            "must start with redis://",
        ),
        ({"externalRedis": {"url": "redis://r:6379/0"}}, "set redis.enabled=false"),
        (
            {"workers": [{"name": "a", "queues": ["default"]}, {"name": "a", "queues": ["email"]}]},
            'two worker pools are named "a"',
        ),
        (
            {
                "workers": [
                    {
                        "name": "a",
                        "queues": ["reports"],
                        "terminationGracePeriodSeconds": 30,
                        "shutdownTimeoutSeconds": 30,
                    }
                ]
            },
            "shutdownTimeoutSeconds must be below terminationGracePeriodSeconds",
        ),
        (
            {
                "workers": [
                    {"name": "a", "queues": ["reports"], "terminationGracePeriodSeconds": 4000}
                ]
            },
            "visibilityTimeoutSeconds must exceed terminationGracePeriodSeconds",
        ),
        ({"api": {"ingress": {"enabled": True, "host": ""}}}, "needs api.ingress.host"),
        ({"api": {"service": {"nodePort": 30080}}}, "only used with api.service.type=NodePort"),
        (
            {"monitoring": {"serviceMonitor": {"enabled": True}}},
            "list Prometheus in networkPolicy.metricsFrom",
        ),
        (
            {
                "workers": [
                    {
                        "name": "a",
                        "queues": ["default"],
                        "autoscaling": {"mode": "operator", "minReplicas": 5, "maxReplicas": 3},
                    }
                ]
            },
            r"autoscaling.minReplicas \(5\) must not exceed autoscaling.maxReplicas \(3\)",
        ),
        (
            {
                "workers": [
                    {
                        "name": "a",
                        "queues": ["default"],
                        "replicas": 3,
                        "autoscaling": {"mode": "operator"},
                    }
                ]
            },
            "autoscaling.mode=operator owns the replicas; remove replicas",
        ),
        (
            {
                "workers": [
                    {
                        "name": "a",
                        "queues": ["default"],
                        "autoscaling": {
                            "mode": "operator",
                            "operator": {
                                "scaleDownStabilizationSeconds": 600,
                                "maxScaleDownStabilizationSeconds": 300,
                            },
                        },
                    }
                ]
            },
            "maxScaleDownStabilizationSeconds must be at least scaleDownStabilizationSeconds",
        ),
        (
            {
                "workers": [
                    {"name": "a", "queues": ["default"], "autoscaling": {"mode": "operator"}}
                ],
                "monitoring": {"serviceMonitor": {"enabled": True}},
                "exporter": {"enabled": False},
            },
            "cannot scrape the exporter and the autoscaler",
        ),
        (
            {"workers": [{"name": "a", "queues": ["default"], "autoscaling": {"mode": "keda"}}]},
            "list KEDA's operator .* in networkPolicy.redisFrom",
        ),
        (
            {"redis": {"architecture": "sentinel", "sentinel": {"quorum": 4}}},
            r"redis.sentinel.quorum \(4\) is more than the sentinels there are",
        ),
        (
            {"redis": {"architecture": "sentinel", "sentinel": {"minReplicasToWrite": 3}}},
            r"redis.sentinel.minReplicasToWrite \(3\) needs more replicas than the 3 pods",
        ),
        ({"config": {"minReplicaAcks": 1}}, "the standalone Redis has no replica"),
        (
            {"redis": {"architecture": "sentinel"}, "config": {"minReplicaAcks": 3}},
            r"config.minReplicaAcks \(3\) needs more replicas than the 3 pods",
        ),
        (
            {"redis": {"enabled": False, "architecture": "sentinel"}},
            "for your own sentinels set externalRedis.sentinel.addresses",
        ),
        (
            {
                "redis": {"enabled": False},
                "externalRedis": {"existingSecret": "s", "sentinel": {"addresses": ["s:26379"]}},
            },
            "needs externalRedis.sentinel.masterName",
        ),
        (
            {
                "redis": {"enabled": False},
                "externalRedis": {
                    "url": "redis://r:6379/0",
                    "existingSecret": "s",
                    "sentinel": {"addresses": ["s:26379"], "masterName": "m"},
                },
            },
            "the Sentinel form takes no URL",
        ),
        (
            {"externalRedis": {"sentinel": {"addresses": ["s:26379"], "masterName": "m"}}},
            "set redis.enabled=false to use your own sentinels",
        ),
        (
            {
                "redis": {"enabled": False},
                "externalRedis": {"sentinel": {"addresses": ["s:26379"], "masterName": "m"}},
            },
            "set externalRedis.existingSecret",
        ),
    ],
    ids=[
        "no-redis-at-all",
        "external-without-secret",
        "password-in-url",
        "not-a-redis-url",
        "external-url-with-in-chart-redis",
        "duplicate-pool",
        "shutdown-not-below-grace",
        "grace-above-visibility",
        "ingress-without-host",
        "nodeport-without-type",
        "metrics-unreachable",
        "min-above-max",
        "replicas-and-a-scaler",
        "stabilization-bound-below-window",
        "autoscaler-metrics-unreachable",
        "keda-cannot-reach-redis",
        "quorum-above-sentinels",
        "master-refusing-every-write",
        "replica-acks-without-replicas",
        "replica-acks-above-replicas",
        "sentinel-architecture-without-redis",
        "external-sentinel-without-master-name",
        "external-sentinel-and-url",
        "external-sentinel-with-in-chart-redis",
        "external-sentinel-without-secret",
    ],
)
class TestCheckValues:
    def test_render_fails_with_a_helpful_message(
        self, values: dict[str, Any], message: str
    ) -> None:
        with pytest.raises(helm.HelmRenderError, match=message):
            render(values)


class TestCheckValuesBehindTheSchema:
    """The checks hold for a chart whose schema is skipped or stripped."""

    def test_unknown_queue(self, tmp_path: Path) -> None:
        chart_copy = tmp_path / "tasklane"
        shutil.copytree(CHART_DIR, chart_copy)
        (chart_copy / "values.schema.json").unlink()
        with (
            helm.Chart.load(chart_copy) as chart,
            pytest.raises(helm.HelmRenderError, match='unknown queue "emails"'),
        ):
            chart.render({"workers": [{"name": "a", "queues": ["emails"]}]}, name="demo")

    def test_keda_pool_without_queues(self, tmp_path: Path) -> None:
        chart_copy = tmp_path / "tasklane"
        shutil.copytree(CHART_DIR, chart_copy)
        (chart_copy / "values.schema.json").unlink()
        pool = {"name": "a", "queues": [], "autoscaling": {"mode": "keda"}}
        with (
            helm.Chart.load(chart_copy) as chart,
            pytest.raises(helm.HelmRenderError, match='worker pool "a" has no queues'),
        ):
            chart.render({"workers": [pool], "networkPolicy": {"enabled": False}}, name="demo")

    def test_unknown_autoscaling_mode(self, tmp_path: Path) -> None:
        chart_copy = tmp_path / "tasklane"
        shutil.copytree(CHART_DIR, chart_copy)
        (chart_copy / "values.schema.json").unlink()
        pool = {"name": "a", "queues": ["default"], "autoscaling": {"mode": "vpa"}}
        with (
            helm.Chart.load(chart_copy) as chart,
            pytest.raises(helm.HelmRenderError, match="must be none, operator, keda or hpa"),
        ):
            chart.render({"workers": [pool]}, name="demo")

    def test_known_queues_match_the_contract(self) -> None:
        from tasklane_contract.queues import ALL_QUEUES

        for queue in ALL_QUEUES:
            render({"workers": [{"name": "only", "queues": [queue]}]})
