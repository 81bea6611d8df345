"""The chart README's commands match the chart and the Makefile: every `helm upgrade --install`
renders with the values it sets, the names it uses exist, the kind URL is the mapped port."""

from __future__ import annotations

import re

import pytest

from tests.chart.render import CHART_DIR, REPO_ROOT, of_kind, render, values_from_command

README = (CHART_DIR / "README.md").read_text()
MAKEFILE = (REPO_ROOT / "Makefile").read_text()


def _commands(prefix: str) -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, re.DOTALL)
    joined = "\n".join(block.replace("\\\n", " ") for block in blocks)
    return [line.strip() for line in joined.splitlines() if line.strip().startswith(prefix)]


class TestChartReadme:
    @pytest.mark.parametrize("command", _commands("helm upgrade --install"))
    def test_install_commands_render(self, command: str) -> None:
        assert " helm/tasklane" in command
        objects = render(
            values_from_command(command.replace("<tag>", "1.0.0")),
            name="tasklane",
            namespace="tasklane",
        )
        assert of_kind(objects, "Deployment")

    def test_there_are_install_commands(self) -> None:
        assert len(_commands("helm upgrade --install")) >= 2

    def test_scale_command_names_a_rendered_deployment(self) -> None:
        names = {d["metadata"]["name"] for d in render(name="tasklane", namespace="tasklane")}
        for command in _commands("kubectl scale"):
            deployment = re.search(r"deployment/(\S+)", command)
            assert deployment and deployment.group(1) in names

    def test_kind_url_is_the_mapped_port(self) -> None:
        port = re.search(r"^KIND_API_PORT := (\d+)", MAKEFILE, re.MULTILINE)
        node_port = re.search(r"^KIND_NODE_PORT := (\d+)", MAKEFILE, re.MULTILINE)
        assert port and node_port
        assert f"http://127.0.0.1:{port.group(1)}" in README
        assert f"NodePort {node_port.group(1)}" in README
        for target in (
            "make kind-up",
            "make kind-down",
            "make kind-up MONITORING=1",
            "make images",
        ):
            assert target in README
