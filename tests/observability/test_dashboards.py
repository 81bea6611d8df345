"""The dashboard JSON committed in the chart is what helm/dashboards/generate.py builds, and
each dashboard has the template variables and panels the README promises."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.observability.prometheus import GENERATOR, alert_rules, dashboards, panel_queries


class TestDashboards:
    def test_committed_json_is_fresh(self) -> None:
        done = subprocess.run(
            [sys.executable, str(GENERATOR), "--check"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    @pytest.mark.parametrize("uid", ["tasklane-overview", "tasklane-task", "tasklane-autoscaling"])
    def test_template_variables(self, uid: str) -> None:
        dashboard = dashboards()[uid]
        names = [v["name"] for v in dashboard["templating"]["list"]]
        assert names[:4] == ["datasource", "namespace", "release", "queue"]
        for panel in dashboard["panels"]:
            if panel["type"] == "row":
                continue
            for target in panel["targets"]:
                assert 'namespace=~"$namespace"' in target["expr"], panel["title"]
                assert 'release=~"$release"' in target["expr"], panel["title"]

    def test_overview_answers_is_my_queue_keeping_up(self) -> None:
        titles = {title for title, _ in panel_queries(dashboards()["tasklane-overview"])}
        assert {
            "Backlog per queue",
            "Estimated queue wait",
            "Tasks in and out per queue",
            "Workers up",
            "Task outcomes",
            "Task runtime",
            "Requests per second by status",
            "API latency",
            "API 5xx ratio",
        } <= titles


def test_runbooks_name_dashboards_and_panels_that_exist() -> None:
    titles = {d["title"] for d in dashboards().values()}
    panels = {p["title"] for d in dashboards().values() for p in d["panels"]}
    named = [
        quoted
        for rule in alert_rules()
        for quoted in re.findall(r'"([^"{}]+)"', rule["annotations"]["runbook"])
    ]
    assert len(named) > 10
    for name in named:
        assert name in titles or any(p == name or p.startswith(f"{name}:") for p in panels), name
