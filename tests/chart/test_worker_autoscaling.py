"""Per pool `autoscaling.mode`: the object each scaler needs, and the Deployment leaving its
replicas to that scaler."""

from __future__ import annotations

import base64
from typing import Any

import helm_python as helm
import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from tasklane_autoscaler.spec import parse_spec
from tasklane_contract.backlog import queue_list_keys
from tests.chart.render import CHART_DIR, COMBINATIONS, Obj, of_kind, one, render, render_files

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
            "scaleDownStabilizationSeconds": 240,
            "maxScaleDownStabilizationSeconds": 300,
            "workerStartupSeconds": 30,
            "pollIntervalSeconds": 2,
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


def _scaled_objects(values: Obj | None = None) -> dict[str, Obj]:
    objects = render(values or COMBINATIONS["autoscaling-keda"], show_only=SCALED_OBJECT)
    return {o["metadata"]["name"]: o for o in objects}


SCALED_OBJECT = ["worker/worker-scaledobject.yaml"]
TRIGGER_AUTHENTICATION = ["worker/worker-triggerauthentication.yaml"]


class TestWorkerScaledObject:
    def test_one_per_keda_pool_targeting_its_deployment(self) -> None:
        scaled = _scaled_objects()
        assert set(scaled) == {"demo-tasklane-worker-general", "demo-tasklane-worker-reports"}
        general = scaled["demo-tasklane-worker-general"]["spec"]
        assert general["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "demo-tasklane-worker-general",
        }
        assert (general["minReplicaCount"], general["maxReplicaCount"]) == (0, 20)
        assert (general["pollingInterval"], general["cooldownPeriod"]) == (30, 300)

    def test_triggers_cover_all_ten_list_keys_of_every_queue(self) -> None:
        for scaled in _scaled_objects().values():
            triggers = scaled["spec"]["triggers"]
            pool = scaled["metadata"]["labels"]["tasklane.io/worker-pool"]
            queues = {"general": ["default", "email", "maintenance"], "reports": ["reports"]}[pool]
            wanted = [key for queue in queues for key in queue_list_keys(queue)]
            assert [t["metadata"]["listName"] for t in triggers] == wanted
            assert len(triggers) == 10 * len(queues)
            assert {t["type"] for t in triggers} == {"redis"}

    def test_priority_list_names_hold_the_real_control_characters(self) -> None:
        names = [
            t["metadata"]["listName"]
            for t in _scaled_objects()["demo-tasklane-worker-reports"]["spec"]["triggers"]
        ]
        assert names[0] == "reports"
        assert names[1:] == [f"reports\x06\x16{n}" for n in range(1, 10)]
        assert all("\\" not in name for name in names)
        text = render_files(COMBINATIONS["autoscaling-keda"])[
            "tasklane/templates/worker/worker-scaledobject.yaml"
        ]
        assert 'listName: "reports\\x06\\x169"' in text  # escapes in a double-quoted string

    def test_lists_are_summed_and_each_replica_sized_for_its_concurrency(self) -> None:
        # Separate triggers would each size the pool on its own list and the largest would win.
        for scaled in _scaled_objects().values():
            spec = scaled["spec"]
            names = [t["name"] for t in spec["triggers"]]
            assert len(set(names)) == len(names)
            modifiers = spec["advanced"]["scalingModifiers"]
            assert modifiers["formula"].split(" + ") == names
            assert modifiers["metricType"] == "AverageValue"
            concurrency = "2" if "reports" in scaled["metadata"]["name"] else "4"
            assert modifiers["target"] == concurrency
            assert modifiers["activationTarget"] == "0"
            assert {t["metadata"]["listLength"] for t in spec["triggers"]} == {concurrency}

    def test_in_chart_redis_by_its_namespaced_name(self) -> None:
        for trigger in _scaled_objects()["demo-tasklane-worker-general"]["spec"]["triggers"]:
            metadata = trigger["metadata"]
            assert metadata["address"] == "demo-tasklane-redis.work.svc:6379"
            assert (metadata["databaseIndex"], metadata["enableTLS"]) == ("0", "false")
            assert trigger["authenticationRef"] == {"name": "demo-tasklane-worker-keda"}
            assert "password" not in metadata and "passwordFromEnv" not in metadata

    def test_external_redis_address_database_and_tls(self) -> None:
        values = {**_pool("keda"), **COMBINATIONS["external-redis"]}
        (scaled,) = _scaled_objects(values).values()
        metadata = scaled["spec"]["triggers"][0]["metadata"]
        assert metadata["address"] == "redis.example:6380"
        assert (metadata["databaseIndex"], metadata["enableTLS"]) == ("2", "true")
        values["externalRedis"] = {"url": "redis://redis.example", "existingSecret": "s"}
        (scaled,) = _scaled_objects(values).values()
        metadata = scaled["spec"]["triggers"][0]["metadata"]
        assert metadata["address"] == "redis.example:6379"
        assert (metadata["databaseIndex"], metadata["enableTLS"]) == ("0", "false")

    def test_with_sentinels_kedas_redis_sentinel_trigger_asks_them(self) -> None:
        values = {**_pool("keda"), "redis": {"architecture": "sentinel"}}
        (scaled,) = _scaled_objects(values).values()
        sentinels = ",".join(
            f"demo-tasklane-redis-{n}.demo-tasklane-redis-headless.work.svc:26379" for n in range(3)
        )
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["type"] == "redis-sentinel"
            metadata = trigger["metadata"]
            assert metadata["addresses"] == sentinels
            assert metadata["sentinelMaster"] == "tasklane"
            assert "address" not in metadata
        external = {**_pool("keda"), **COMBINATIONS["external-sentinel"]}
        (scaled,) = _scaled_objects(external).values()
        metadata = scaled["spec"]["triggers"][0]["metadata"]
        assert metadata["addresses"] == (
            "redis-node-0.redis-headless:26379,redis-node-1.redis-headless:26379"
        )
        assert (metadata["sentinelMaster"], metadata["databaseIndex"]) == ("mymaster", "2")

    def test_behavior_and_activation_from_values(self) -> None:
        scaled = _scaled_objects()["demo-tasklane-worker-reports"]["spec"]
        assert scaled["advanced"]["horizontalPodAutoscalerConfig"] == {
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 120}}
        }
        assert (
            "horizontalPodAutoscalerConfig"
            not in (_scaled_objects()["demo-tasklane-worker-general"]["spec"]["advanced"])
        )
        values = _pool("keda", minReplicas=0, keda={"activationListLength": 3})
        (scaled,) = _scaled_objects(values).values()
        assert scaled["spec"]["advanced"]["scalingModifiers"]["activationTarget"] == "3"
        assert {t["metadata"]["activationListLength"] for t in scaled["spec"]["triggers"]} == {"3"}


class TestWorkerTriggerAuthentication:
    def test_password_from_the_redis_secret(self) -> None:
        auth = one(
            render(COMBINATIONS["autoscaling-keda"], show_only=TRIGGER_AUTHENTICATION),
            "TriggerAuthentication",
        )
        assert auth["metadata"]["name"] == "demo-tasklane-worker-keda"
        assert auth["spec"] == {
            "secretTargetRef": [
                {"parameter": "password", "name": "demo-tasklane-redis", "key": "password"}
            ]
        }
        values = {**_pool("keda"), **COMBINATIONS["external-redis"]}
        auth = one(render(values, show_only=TRIGGER_AUTHENTICATION), "TriggerAuthentication")
        assert auth["spec"]["secretTargetRef"] == [
            {"parameter": "password", "name": "redis-auth", "key": "password"}
        ]

    def test_the_sentinels_password_too_with_sentinels(self) -> None:
        values = {**_pool("keda"), "redis": {"architecture": "sentinel"}}
        auth = one(render(values, show_only=TRIGGER_AUTHENTICATION), "TriggerAuthentication")
        assert auth["spec"]["secretTargetRef"] == [
            {"parameter": "password", "name": "demo-tasklane-redis", "key": "password"},
            {"parameter": "sentinelPassword", "name": "demo-tasklane-redis", "key": "password"},
        ]
        external = {**_pool("keda"), **COMBINATIONS["external-sentinel"]}
        auth = one(render(external, show_only=TRIGGER_AUTHENTICATION), "TriggerAuthentication")
        assert auth["spec"]["secretTargetRef"][1] == {
            "parameter": "sentinelPassword",
            "name": "sentinel-auth",
            "key": "password",
        }

    def test_one_for_all_keda_pools_and_none_without(self) -> None:
        assert len(render(COMBINATIONS["autoscaling-keda"], show_only=TRIGGER_AUTHENTICATION)) == 1
        assert render(_pool("operator"), show_only=TRIGGER_AUTHENTICATION) == []

    def test_no_object_holds_the_generated_password(self) -> None:
        files = render_files(COMBINATIONS["autoscaling-keda"])
        secret = one(render(COMBINATIONS["autoscaling-keda"]), "Secret", "demo-tasklane-redis")
        password = base64.b64decode(secret["data"]["password"]).decode()
        for path, text in files.items():
            if not path.endswith("redis/redis-secret.yaml"):
                assert password not in text, path


HPA = ["worker/worker-horizontalpodautoscaler.yaml"]


class TestWorkerHorizontalPodAutoscaler:
    def test_one_per_hpa_pool_on_cpu_utilisation(self) -> None:
        objects = render(COMBINATIONS["autoscaling-hpa"], show_only=[*HPA, *DEPLOYMENT])
        deployments = {d["metadata"]["name"] for d in of_kind(objects, "Deployment")}
        autoscalers = of_kind(objects, "HorizontalPodAutoscaler")
        assert {a["metadata"]["name"] for a in autoscalers} == deployments
        for autoscaler in autoscalers:
            spec = autoscaler["spec"]
            assert spec["scaleTargetRef"] == {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": autoscaler["metadata"]["name"],
            }
            assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 8)
            assert spec["metrics"] == [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ]

    def test_behavior_from_values(self) -> None:
        values = COMBINATIONS["autoscaling-hpa"]
        for autoscaler in render(values, show_only=HPA):
            assert (
                autoscaler["spec"]["behavior"]
                == values["workerDefaults"]["autoscaling"]["behavior"]
            )
        (plain,) = render(_pool("hpa", hpa={"targetCPUUtilizationPercentage": 55}), show_only=HPA)
        assert "behavior" not in plain["spec"]
        target = plain["spec"]["metrics"][0]["resource"]["target"]
        assert target["averageUtilization"] == 55

    def test_cpu_utilisation_has_requests_to_measure_against(self) -> None:
        for deployment in render(COMBINATIONS["autoscaling-hpa"], show_only=DEPLOYMENT):
            (container,) = deployment["spec"]["template"]["spec"]["containers"]
            assert container["resources"]["requests"]["cpu"]

    def test_cannot_scale_to_zero(self) -> None:
        with pytest.raises(helm.HelmRenderError, match="hpa needs minReplicas of at least 1"):
            render(_pool("hpa", minReplicas=0))
