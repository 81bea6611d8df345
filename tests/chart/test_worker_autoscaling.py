"""Per pool `autoscaling.mode`: the object each scaler needs, and the Deployment leaving its
replicas to that scaler."""

from __future__ import annotations

from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from tasklane_autoscaler.spec import parse_spec
from tests.chart.render import CHART_DIR, COMBINATIONS, Obj, of_kind, one, render

DEPLOYMENT = ["worker/worker-deployment.yaml"]
WORKER_AUTOSCALER = ["worker/worker-workerautoscaler.yaml"]
CRD = yaml.safe_load((CHART_DIR / "crds" / "workerautoscaler.yaml").read_text())


def _pool(mode: str, **autoscaling: Any) -> Obj:
    return {
        "workers": [
            {
                "name": "general",
                "queues": ["default", "email"],
                "autoscaling": {"mode": mode, **autoscaling},
            },
            {"name": "fixed", "queues": ["reports"], "replicas": 2},
        ],
        # KEDA reaches Redis from its own namespace; not what these tests are about.
        "networkPolicy": {"enabled": False},
    }


class TestWorkerDeploymentReplicas:
    @pytest.mark.parametrize("mode", ["operator", "keda", "hpa"])
    def test_left_out_when_a_scaler_owns_them(self, mode: str) -> None:
        deployments = {d["metadata"]["name"]: d for d in render(_pool(mode), show_only=DEPLOYMENT)}
        assert "replicas" not in deployments["demo-tasklane-worker-general"]["spec"]
        assert deployments["demo-tasklane-worker-fixed"]["spec"]["replicas"] == 2

    def test_mode_none_keeps_todays_behaviour(self) -> None:
        for deployment in render(show_only=DEPLOYMENT):
            assert deployment["spec"]["replicas"] == 1
        objects = render()
        for kind in ("WorkerAutoscaler", "ScaledObject", "HorizontalPodAutoscaler"):
            assert of_kind(objects, kind) == []

    def test_worker_defaults_set_the_mode_for_every_pool(self) -> None:
        values = {"workerDefaults": {"autoscaling": {"mode": "operator", "maxReplicas": 4}}}
        objects = render(values)
        autoscalers = of_kind(objects, "WorkerAutoscaler")
        workers = {d["metadata"]["name"] for d in render(values, show_only=DEPLOYMENT)}
        assert {a["spec"]["targetDeployment"] for a in autoscalers} == workers
        assert {a["spec"]["maxReplicas"] for a in autoscalers} == {4}


class TestWorkerWorkerAutoscaler:
    def test_targets_the_pool_deployment_with_its_queues(self) -> None:
        objects = render(COMBINATIONS["autoscaling-operator"])
        autoscaler = one(objects, "WorkerAutoscaler")
        deployment = one(objects, "Deployment", autoscaler["spec"]["targetDeployment"])
        assert autoscaler["metadata"]["name"] == deployment["metadata"]["name"]
        assert autoscaler["metadata"]["labels"]["tasklane.io/worker-pool"] == "general"
        assert autoscaler["spec"] == {
            "targetDeployment": "demo-tasklane-worker-general",
            "queues": ["default", "email", "maintenance"],
            "concurrency": 4,
            "minReplicas": 0,
            "maxReplicas": 20,
            "targetWaitSeconds": 0,
            "scaleDownStabilizationSeconds": 60,
            "maxScaleDownStabilizationSeconds": 300,
            "workerStartupSeconds": 30,
            "pollIntervalSeconds": 5,
        }

    def test_knobs_from_values_reach_the_spec_the_operator_reads(self) -> None:
        knobs = {
            "tasksPerReplica": 6,
            "targetWaitSeconds": 2.5,
            "scaleDownStabilizationSeconds": 0,
            "maxScaleDownStabilizationSeconds": 120,
            "workerStartupSeconds": 15,
            "pollIntervalSeconds": 2,
        }
        values = _pool("operator", minReplicas=2, maxReplicas=9, operator=knobs)
        values["workers"][0]["concurrency"] = 3
        autoscaler = one(render(values, show_only=WORKER_AUTOSCALER), "WorkerAutoscaler")
        assert autoscaler["spec"].items() >= knobs.items()
        (version,) = CRD["spec"]["versions"]
        jsonschema.validate(autoscaler, version["schema"]["openAPIV3Schema"])
        spec = parse_spec(autoscaler["spec"])
        assert spec.target_deployment == "demo-tasklane-worker-general"
        assert spec.queues == ("default", "email")
        assert spec.scaling.concurrency == 3
        assert spec.scaling.tasks_per_replica == 6
        assert (spec.scaling.min_replicas, spec.scaling.max_replicas) == (2, 9)
        assert spec.poll_interval_s == 2

    def test_kind_and_group_match_the_crd(self) -> None:
        autoscaler = one(render(_pool("operator"), show_only=WORKER_AUTOSCALER), "WorkerAutoscaler")
        (version,) = CRD["spec"]["versions"]
        assert autoscaler["apiVersion"] == f"{CRD['spec']['group']}/{version['name']}"
        assert autoscaler["kind"] == CRD["spec"]["names"]["kind"]
