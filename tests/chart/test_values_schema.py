"""values.schema.json: every key described, unknown keys rejected, so a typo fails install."""

from __future__ import annotations

import json
from typing import Any

import helm_python as helm
import pytest
import yaml

from tests.chart.render import CHART_DIR, render, validate_schema

SCHEMA = json.loads((CHART_DIR / "values.schema.json").read_text())


def _objects(schema: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if "properties" in schema:
        found.append((path or "<root>", schema))
        for key, sub in schema["properties"].items():
            found.extend(_objects(sub, f"{path}.{key}" if path else key))
    if "items" in schema:
        found.extend(_objects(schema["items"], f"{path}[]"))
    return found


def _keys(schema: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for key, sub in schema.get("properties", {}).items():
        here = f"{path}.{key}" if path else key
        found.append((here, sub))
        found.extend(_keys(sub, here))
        if "items" in sub:
            found.extend(_keys(sub["items"], f"{here}[]"))
    return found


class TestValuesSchema:
    def test_every_key_has_a_description(self) -> None:
        missing = [path for path, sub in _keys(SCHEMA) if not sub.get("description")]
        assert missing == []

    def test_every_object_with_properties_refuses_unknown_keys(self) -> None:
        open_objects = [
            p for p, o in _objects(SCHEMA) if o.get("additionalProperties") is not False
        ]
        assert open_objects == []

    def test_every_default_value_is_in_the_schema(self) -> None:
        defaults = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
        validate_schema(defaults)
        assert set(defaults) <= set(SCHEMA["properties"])

    @pytest.mark.parametrize(
        "values",
        [
            {"replicaCount": 3},
            {"api": {"replica": 3}},
            {"redis": {"persistence": {"sise": "2Gi"}}},
            {"workers": [{"name": "x", "queues": ["default"], "concurency": 2}]},
            {"workerDefaults": {"terminationGracePeriod": 30}},
            {"workers": [{"name": "x", "queues": ["default"], "autoscaling": {"mod": "keda"}}]},
            {"workerDefaults": {"autoscaling": {"operator": {"pollInterval": 5}}}},
            {"autoscaler": {"metricPort": 9000}},
            {"api": {"autoscaling": {"enable": True}}},
            {"flower": {"basicAuth": {"existingsecret": "x"}}},
            {"workers": [{"name": "x", "queues": ["default"], "extraEnvs": []}]},
            {"beat": {"serviceAccount": {"annotation": {}}}},
            {"defaultTopologySpread": {"key": "zone"}},
        ],
        ids=[
            "top-level",
            "api",
            "nested",
            "pool",
            "worker-defaults",
            "pool-autoscaling",
            "operator-knob",
            "autoscaler",
            "api-autoscaling",
            "flower-auth",
            "pool-extra-env",
            "service-account",
            "default-spread",
        ],
    )
    def test_a_typo_is_rejected(self, values: dict[str, Any]) -> None:
        with pytest.raises(helm.HelmValuesError, match="additional propert"):
            render(values)

    @pytest.mark.parametrize(
        "values",
        [
            {"workers": [{"name": "x", "queues": ["emails"]}]},
            {"workers": [{"name": "Bad_Name", "queues": ["default"]}]},
            {"workers": [{"name": "x", "queues": []}]},
            {"image": {"tag": "latest"}},
            {"redis": {"image": {"tag": "latest"}}},
            {"config": {"environment": "prod"}},
            {"api": {"resources": {"limits": None}}},
            {"api": {"service": {"type": "ExternalName"}}},
            {"workerDefaults": {"autoscaling": {"mode": "vpa"}}},
            {"workerDefaults": {"autoscaling": {"maxReplicas": 0}}},
            {"workerDefaults": {"autoscaling": {"minReplicas": -1}}},
            {"api": {"autoscaling": {"minReplicas": 0}}},
            {"api": {"extraEnv": [{"value": "no name"}]}},
            {"flower": {"oauth": {"provider": "mine.Handler"}}},
            {"beat": {"serviceAccount": {"name": "Not_A_Name"}}},
        ],
        ids=[
            "unknown-queue",
            "pool-name",
            "no-queues",
            "latest-tag",
            "latest-redis",
            "environment",
            "no-limits",
            "service-type",
            "autoscaling-mode",
            "max-replicas-zero",
            "min-replicas-negative",
            "api-min-replicas-zero",
            "env-without-name",
            "oauth-provider",
            "service-account-name",
        ],
    )
    def test_an_impossible_value_is_rejected(self, values: dict[str, Any]) -> None:
        with pytest.raises(helm.HelmValuesError):
            render(values)

    def test_queue_enum_matches_the_contract(self) -> None:
        from tasklane_contract.queues import ALL_QUEUES

        pool = SCHEMA["properties"]["workers"]["items"]
        assert sorted(pool["properties"]["queues"]["items"]["enum"]) == sorted(ALL_QUEUES)
