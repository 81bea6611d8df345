"""The WorkerAutoscaler CRD: a valid CustomResourceDefinition, the same file in k8s/ and in the
chart, an example that its schema accepts, and the spec fields the operator reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tasklane_autoscaler.policy import Reason
from tasklane_autoscaler.spec import GROUP, PLURAL, VERSION, parse_spec

REPO_ROOT = Path(__file__).resolve().parents[2]
CRD = REPO_ROOT / "k8s" / "crds" / "workerautoscaler.yaml"
CHART_CRD = REPO_ROOT / "helm" / "tasklane" / "crds" / "workerautoscaler.yaml"
EXAMPLE = REPO_ROOT / "k8s" / "examples" / "workerautoscaler.yaml"


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def schema() -> dict[str, Any]:
    version = load(CRD)["spec"]["versions"][0]
    result: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return result


def test_crd_is_a_valid_custom_resource_definition() -> None:
    kubernetes_validate.validate(load(CRD), "1.30", strict=True)
    crd = load(CRD)
    assert crd["spec"]["group"] == GROUP
    assert crd["spec"]["names"]["plural"] == PLURAL
    assert [v["name"] for v in crd["spec"]["versions"]] == [VERSION]
    assert crd["spec"]["versions"][0]["subresources"] == {"status": {}}


def test_chart_ships_the_same_crd() -> None:
    assert CHART_CRD.read_text() == CRD.read_text()


def test_printer_columns_point_at_status_fields() -> None:
    version = load(CRD)["spec"]["versions"][0]
    status_fields = set(version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"])
    for column in version["additionalPrinterColumns"]:
        path = column["jsonPath"]
        if path.startswith(".status."):
            assert path.removeprefix(".status.") in status_fields


def test_the_status_reason_names_every_reason_the_policy_gives() -> None:
    status = schema()["properties"]["status"]["properties"]
    described = status["reason"]["description"].removeprefix("Why, in one word:")
    named = {word.strip(" .") for word in described.replace(" or ", ",").split(",")}
    assert named == {reason.value for reason in Reason}


def test_example_is_accepted_and_parsed() -> None:
    example = load(EXAMPLE)
    jsonschema.validate(example, schema())
    spec = parse_spec(example["spec"])
    assert spec.target_deployment == "tasklane-worker-general"
    assert spec.scaling.concurrency == 4
    assert spec.scaling.max_replicas == 20


@pytest.mark.parametrize(
    "bad",
    [
        {"queues": ["default"], "concurrency": 4},  # no target
        {"targetDeployment": "w", "queues": [], "concurrency": 4},
        {"targetDeployment": "w", "queues": ["default"], "concurrency": 0},
        {"targetDeployment": "w", "queues": ["default"], "concurrency": 4, "maxReplicas": 0},
    ],
)
def test_schema_and_parser_both_refuse_impossible_specs(bad: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"spec": bad}, schema())
    with pytest.raises(ValueError):
        parse_spec({"minReplicas": 1, **bad})


def test_the_crds_defaults_are_the_operators() -> None:
    """The API server fills in the CRD's defaults; the operator fills in its own when a spec
    reaches it without them. Both must say the same."""
    fields = schema()["properties"]["spec"]["properties"]
    defaults = {name: field["default"] for name, field in fields.items() if "default" in field}
    assert defaults  # the schema does declare some
    minimal = {"targetDeployment": "w", "queues": ["default"], "concurrency": 4}
    assert parse_spec({**minimal, **defaults}) == parse_spec(minimal)
