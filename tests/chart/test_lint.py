"""`helm lint --strict` with the real Helm engine, for the defaults and each combination."""

from __future__ import annotations

import pytest

from tests.chart.render import COMBINATIONS, lint

WARNING = 2


class TestHelmLint:
    @pytest.mark.parametrize("combination", sorted(COMBINATIONS))
    def test_strict_lint_is_clean(self, combination: str) -> None:
        report = lint(COMBINATIONS[combination])
        assert report["total_charts_linted"] == 1
        assert report["errors"] == []
        findings = [m for m in report["messages"] if m["severity"] >= WARNING]
        assert findings == []

    def test_lint_reports_a_schema_violation(self) -> None:
        # Lint must see the values it is given, or a clean report above means nothing.
        report = lint({"api": {"replica": 3}})
        assert any(
            "replica" in e for e in report["errors"] + [m["error"] for m in report["messages"]]
        )
