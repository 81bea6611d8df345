"""The chart's alert rules and dashboards as data, and a real Prometheus server for tests."""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_FILES = REPO_ROOT / "helm" / "tasklane" / "files"
ALERTS_FILE = CHART_FILES / "alerts.yaml"
DASHBOARD_DIR = CHART_FILES / "dashboards"
GENERATOR = REPO_ROOT / "helm" / "dashboards" / "generate.py"


def alert_rules() -> list[dict[str, Any]]:
    rules = yaml.safe_load(ALERTS_FILE.read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


@functools.cache
def _dashboards() -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(DASHBOARD_DIR.glob("*.json")):
        dashboard = json.loads(path.read_text())
        found[dashboard["uid"]] = dashboard
    return found


def dashboards() -> dict[str, dict[str, Any]]:
    return _dashboards()


def panel_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) for every query of every panel."""
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]


def substitute(expr: str, variables: dict[str, str]) -> str:
    """What Grafana sends: `$name` replaced (longest names first, so `$queue` does not eat
    `$queue_name`), `$__rate_interval` included."""
    for name in sorted(variables, key=len, reverse=True):
        expr = expr.replace(f"${name}", variables[name])
    leftover = re.findall(r"\$[A-Za-z_]+", expr.replace('"$1"', ""))
    assert not leftover, f"unsubstituted {leftover} in {expr}"
    return expr


class PrometheusServer:
    """`prometheus` (Debian's package) on a free port, scraping the given targets."""

    def __init__(
        self,
        port: int,
        data_dir: Path,
        scrape_configs: list[dict[str, Any]],
        rule_files: list[Path],
        scrape_interval_s: float,
    ) -> None:
        binary = shutil.which("prometheus")
        assert binary, "prometheus is needed: apt-get install prometheus (.ci/run does)"
        data_dir.mkdir(parents=True, exist_ok=True)
        config = {
            "global": {
                "scrape_interval": f"{scrape_interval_s}s",
                "evaluation_interval": f"{scrape_interval_s}s",
            },
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": scrape_configs,
        }
        config_path = data_dir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config))
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = data_dir / "prometheus.log"
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={data_dir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
            ],
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"prometheus not ready:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.2)

    def api(self, path: str, **params: str) -> Any:
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=30)
        body = response.json()
        assert body["status"] == "success", f"{path} {params}: {body}"
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_range(self, expr: str, start: float, end: float, step_s: float) -> list[Any]:
        data = self.api(
            "query_range", query=expr, start=str(start), end=str(end), step=f"{step_s}s"
        )
        result: list[Any] = data["result"]
        return result

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
