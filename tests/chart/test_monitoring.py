"""templates/monitoring/: the PrometheusRule and the dashboard ConfigMaps, both made from the
chart's files/ (the one source the promtool and real-Prometheus tests check too)."""

from __future__ import annotations

import json

import yaml

from tests.chart.render import CHART_DIR, COMBINATIONS, Obj, of_kind, one, render

RULE = ["monitoring/monitoring-prometheusrule.yaml"]
DASHBOARDS = ["monitoring/monitoring-dashboards-configmap.yaml"]
ALERTS_FILE = CHART_DIR / "files" / "alerts.yaml"
DASHBOARD_DIR = CHART_DIR / "files" / "dashboards"


def _on(**monitoring: Obj) -> Obj:
    return {"monitoring": monitoring}


class TestPrometheusRule:
    def test_off_by_default(self) -> None:
        assert render(show_only=RULE) == []

    def test_carries_every_rule_of_the_alerts_file_unchanged(self) -> None:
        rule = one(render(COMBINATIONS["monitoring-on"], show_only=RULE), "PrometheusRule")
        assert rule["apiVersion"] == "monitoring.coreos.com/v1"
        assert rule["metadata"]["labels"]["release"] == "kps"
        assert rule["spec"] == yaml.safe_load(ALERTS_FILE.read_text())

    def test_prometheus_templates_reach_the_cluster_untouched(self) -> None:
        # {{ $labels.x }} is Prometheus' templating: Helm must not have expanded it.
        rule = one(render(_on(prometheusRule={"enabled": True}), show_only=RULE), "PrometheusRule")
        alerts = [r for group in rule["spec"]["groups"] for r in group["rules"]]
        assert any("{{ $labels.queue }}" in a["annotations"]["summary"] for a in alerts)

    def test_every_alert_has_a_severity_and_a_runbook(self) -> None:
        rule = one(render(_on(prometheusRule={"enabled": True}), show_only=RULE), "PrometheusRule")
        alerts = [r for group in rule["spec"]["groups"] for r in group["rules"]]
        assert len(alerts) >= 9
        for alert in alerts:
            assert alert["labels"]["severity"] in {"warning", "critical"}, alert["alert"]
            assert {"summary", "description", "runbook"} <= alert["annotations"].keys()
            assert len(alert["annotations"]["runbook"]) > 100, alert["alert"]


class TestDashboardConfigMaps:
    def _maps(self, values: Obj) -> dict[str, Obj]:
        return {
            m["metadata"]["name"]: m
            for m in of_kind(render(values, show_only=DASHBOARDS), "ConfigMap")
        }

    def test_off_by_default(self) -> None:
        assert render(show_only=DASHBOARDS) == []

    def test_one_config_map_per_committed_dashboard(self) -> None:
        maps = self._maps(COMBINATIONS["monitoring-on"])
        assert set(maps) == {
            "demo-tasklane-dashboard-overview",
            "demo-tasklane-dashboard-task",
            "demo-tasklane-dashboard-autoscaling",
        }
        for config_map in maps.values():
            assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
            assert config_map["metadata"]["annotations"] == {"grafana_folder": "tasklane"}
            ((file_name, text),) = config_map["data"].items()
            assert json.loads(text) == json.loads((DASHBOARD_DIR / file_name).read_text())

    def test_the_sidecar_label_is_configurable(self) -> None:
        values = _on(dashboards={"enabled": True, "label": "example.org/dash", "labelValue": "yes"})
        for config_map in self._maps(values).values():
            labels = config_map["metadata"]["labels"]
            assert labels["example.org/dash"] == "yes"
            assert "grafana_dashboard" not in labels
