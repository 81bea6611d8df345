"""The chart README's commands match the chart and the Makefile: every `helm upgrade --install`
renders with the values it sets, the names it uses exist, the kind URL is the mapped port."""

from __future__ import annotations

import re
import textwrap

import pytest
import yaml

from tests.chart.render import (
    CHART_DIR,
    REPO_ROOT,
    Obj,
    containers,
    env_of,
    of_kind,
    one,
    pod_spec,
    render,
    values_from_command,
)

README = (CHART_DIR / "README.md").read_text()
MAKEFILE = (REPO_ROOT / "Makefile").read_text()


def _values_examples(text: str) -> list[Obj]:
    """The ```yaml blocks of a README (indented ones too, inside a list item)."""
    blocks = re.findall(r"```yaml\n(.*?)\n\s*```", text, re.DOTALL)
    return [yaml.safe_load(textwrap.dedent(block)) for block in blocks]


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


@pytest.mark.parametrize("readme", ["README.md", "helm/tasklane/README.md"])
def test_values_examples_render_and_reach_the_pools_pods(readme: str) -> None:
    """The values a README shows for a task's secret, files and identity are what the pool gets."""
    examples = _values_examples((REPO_ROOT / readme).read_text())
    assert examples
    for values in examples:
        objects = render(values, name="tasklane", namespace="tasklane")
        for pool in values["workers"]:
            deployment = one(objects, "Deployment", f"tasklane-worker-{pool['name']}")
            (container,) = containers(deployment)
            for variable in pool.get("extraEnv", []):
                assert env_of(container)[variable["name"]] == variable
            mounts = container["volumeMounts"]
            assert all(m in mounts for m in pool.get("extraVolumeMounts", []))
            volumes = pod_spec(deployment)["volumes"]
            assert all(v in volumes for v in pool.get("extraVolumes", []))
