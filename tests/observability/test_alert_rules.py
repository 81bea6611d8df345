"""The alert rules (helm/tasklane/files/alerts.yaml) pass `promtool check rules`, and the promtool
unit tests in alerts.test.yaml show every alert firing and, beside it, a healthy case that
does not."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.observability.prometheus import ALERTS_FILE, alert_rules

HERE = Path(__file__).parent
UNIT_TESTS = HERE / "alerts.test.yaml"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is needed: apt-get install prometheus (.ci/run does)"
    return subprocess.run(
        [promtool, *args], capture_output=True, text=True, timeout=120, check=False
    )


def _without_annotations(rules: dict[str, Any]) -> dict[str, Any]:
    # promtool compares annotations as well; the runbook text is checked in tests/chart.
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    return rules


class TestAlertRules:
    def test_promtool_check_rules(self) -> None:
        done = _promtool("check", "rules", str(ALERTS_FILE))
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"SUCCESS: {len(alert_rules())} rules found" in done.stdout

    def test_promtool_unit_tests(self, tmp_path: Path) -> None:
        rules = _without_annotations(yaml.safe_load(ALERTS_FILE.read_text()))
        (tmp_path / "alerts.yaml").write_text(yaml.safe_dump(rules))
        shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
        done = _promtool("test", "rules", str(tmp_path / UNIT_TESTS.name))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "SUCCESS" in done.stdout

    def test_unit_tests_catch_a_broken_threshold(self, tmp_path: Path) -> None:
        rules = _without_annotations(yaml.safe_load(ALERTS_FILE.read_text()))
        rule = rules["groups"][0]["rules"][0]
        assert rule["alert"] == "TasklaneTaskFailureRatioHigh"
        rule["expr"] = rule["expr"].replace(") > 0.1", ") > 0.5")
        (tmp_path / "alerts.yaml").write_text(yaml.safe_dump(rules))
        shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
        done = _promtool("test", "rules", str(tmp_path / UNIT_TESTS.name))
        assert done.returncode != 0
        assert "TasklaneTaskFailureRatioHigh" in done.stdout + done.stderr

    @pytest.mark.parametrize("alert", sorted(a["alert"] for a in alert_rules()))
    def test_each_alert_is_shown_firing_and_not_firing(self, alert: str) -> None:
        groups = yaml.safe_load(UNIT_TESTS.read_text())["tests"]
        cases = [
            (group, case)
            for group in groups
            for case in group["alert_rule_test"]
            if case["alertname"] == alert
        ]
        firing = [(g, c) for g, c in cases if c["exp_alerts"]]
        assert firing, f"no promtool case shows {alert} firing"
        # Not firing: a case expecting nothing, or healthy series beside the firing one (promtool
        # matches the expected alerts exactly, so those series must not alert).
        quiet = [c for _, c in cases if not c["exp_alerts"]]
        healthy_series = [g for g, c in firing if len(g["input_series"]) > len(c["exp_alerts"])]
        assert quiet or healthy_series, f"no promtool case shows {alert} not firing"
