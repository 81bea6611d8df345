"""templates/worker/: one Deployment (and PDB) per pool, sized against the contract's time
limits so a scale-down never cuts a task short."""

from __future__ import annotations

import re

import helm_python as helm
import pytest
import yaml

from tasklane_contract import CATALOG
from tests.chart.render import (
    CHART_DIR,
    COMBINATIONS,
    Obj,
    containers,
    env_of,
    notes,
    of_kind,
    one,
    pod_labels,
    pod_spec,
    render,
)

DEPLOYMENT = ["worker/worker-deployment.yaml"]
DEFAULT_POOLS = yaml.safe_load((CHART_DIR / "values.yaml").read_text())["workers"]


def _longest_time_limit(queues: list[str]) -> float:
    return max(s.options.time_limit_s for s in CATALOG.values() if s.queue in queues)


class TestWorkerDeployment:
    def test_one_deployment_per_pool_consuming_its_queues(self) -> None:
        values = {
            "workers": [
                {"name": "fast", "queues": ["default", "email"], "concurrency": 8, "replicas": 3},
                {"name": "slow", "queues": ["reports"]},
                {"name": "chores", "queues": ["maintenance"], "replicas": 0},
            ]
        }
        deployments = {d["metadata"]["name"]: d for d in render(values, show_only=DEPLOYMENT)}
        assert set(deployments) == {
            "demo-tasklane-worker-fast",
            "demo-tasklane-worker-slow",
            "demo-tasklane-worker-chores",
        }
        fast = env_of(next(containers(deployments["demo-tasklane-worker-fast"])))
        assert fast["TASKLANE_WORKER_QUEUES"]["value"] == "default,email"
        assert fast["TASKLANE_WORKER_CONCURRENCY"]["value"] == "8"
        slow = env_of(next(containers(deployments["demo-tasklane-worker-slow"])))
        assert slow["TASKLANE_WORKER_QUEUES"]["value"] == "reports"
        assert slow["TASKLANE_WORKER_CONCURRENCY"]["value"] == "4"  # workerDefaults
        assert deployments["demo-tasklane-worker-fast"]["spec"]["replicas"] == 3
        assert deployments["demo-tasklane-worker-slow"]["spec"]["replicas"] == 1
        assert deployments["demo-tasklane-worker-chores"]["spec"]["replicas"] == 0

    def test_pools_select_only_their_own_pods(self) -> None:
        deployments = render(show_only=DEPLOYMENT)
        selectors = [d["spec"]["selector"]["matchLabels"] for d in deployments]
        assert len({tuple(sorted(s.items())) for s in selectors}) == len(deployments)
        for deployment in deployments:
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()

    def test_null_replicas_leaves_the_field_to_an_autoscaler(self) -> None:
        values = {"workers": [{"name": "auto", "queues": ["default"], "replicas": None}]}
        deployment = one(render(values, show_only=DEPLOYMENT), "Deployment")
        assert "replicas" not in deployment["spec"]

    def test_default_pools_cover_every_queue(self) -> None:
        covered = {q for pool in DEFAULT_POOLS for q in pool["queues"]}
        assert covered == {spec.queue for spec in CATALOG.values()}

    def test_grace_period_outlasts_the_longest_task_of_each_default_pool(self) -> None:
        for deployment in render(show_only=DEPLOYMENT):
            (container,) = containers(deployment)
            queues = env_of(container)["TASKLANE_WORKER_QUEUES"]["value"].split(",")
            grace = pod_spec(deployment)["terminationGracePeriodSeconds"]
            assert grace > _longest_time_limit(queues), deployment["metadata"]["name"]

    def test_shutdown_timeout_sits_below_the_grace_period(self) -> None:
        for deployment in render(show_only=DEPLOYMENT):
            (container,) = containers(deployment)
            grace = pod_spec(deployment)["terminationGracePeriodSeconds"]
            shutdown = float(env_of(container)["TASKLANE_SHUTDOWN_TIMEOUT_S"]["value"])
            assert grace - 30 <= shutdown < grace
            assert shutdown > _longest_time_limit(
                env_of(container)["TASKLANE_WORKER_QUEUES"]["value"].split(",")
            )

    def test_visibility_timeout_exceeds_every_grace_period(self) -> None:
        objects = render()
        config = one(objects, "ConfigMap", "demo-tasklane-config")["data"]
        visibility = int(config["TASKLANE_VISIBILITY_TIMEOUT_S"])
        for deployment in render(show_only=DEPLOYMENT):
            assert visibility > pod_spec(deployment)["terminationGracePeriodSeconds"]
        assert visibility > max(s.options.time_limit_s for s in CATALOG.values())

    def test_liveness_detects_a_hung_worker_through_its_heartbeat(self) -> None:
        values = {"workerDefaults": {"heartbeatMaxAgeSeconds": 45}}
        (container,) = containers(render(values, show_only=DEPLOYMENT)[0])
        command = ["python", "-m", "tasklane_worker.liveness", "--max-age", "45"]
        for probe in ("startupProbe", "livenessProbe"):
            assert container[probe]["exec"]["command"] == command
        # Waiting for Redis is alive but not ready (test_redis_outage.py runs both commands).
        assert container["readinessProbe"]["exec"]["command"] == [*command, "--ready"]
        heartbeat = env_of(container)["TASKLANE_WORKER_HEARTBEAT_FILE"]["value"]
        mount = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}["tmp"]
        assert heartbeat.startswith(mount + "/")

    def test_pool_keys_override_worker_defaults(self) -> None:
        values = {
            "workerDefaults": {"resources": {"limits": {"memory": "1Gi"}}},
            "workers": [
                {
                    "name": "a",
                    "queues": ["default"],
                    "resources": {
                        "requests": {"cpu": "2", "memory": "2Gi"},
                        "limits": {"cpu": "2", "memory": "2Gi"},
                    },
                    "image": {"repository": "acme/worker", "tag": "9"},
                },
                {"name": "b", "queues": ["email"]},
            ],
        }
        a, b = render(values, show_only=DEPLOYMENT)
        assert next(containers(a))["resources"]["limits"]["memory"] == "2Gi"
        assert next(containers(a))["image"] == "acme/worker:9"
        assert next(containers(b))["resources"]["limits"]["memory"] == "1Gi"
        assert next(containers(b))["image"] == "tasklane-worker:0.1.0"

    def test_a_pools_lists_replace_the_defaults_and_its_maps_merge(self) -> None:
        default_env = [{"name": "A", "value": "default"}, {"name": "B", "value": "default"}]
        values: Obj = {
            "workerDefaults": {
                "extraEnv": default_env,
                "tolerations": [{"key": "batch", "operator": "Exists"}],
                "podLabels": {"team": "core", "tier": "batch"},
                "priorityClassName": "tasklane-batch",
                "serviceAccount": {"annotations": {"a": "1", "b": "2"}},
            },
            "workers": [
                {
                    "name": "own",
                    "queues": ["default"],
                    "extraEnv": [{"name": "A", "value": "own"}],
                    "podLabels": {"tier": "fast"},
                    "serviceAccount": {"annotations": {"b": "3"}},
                },
                {
                    "name": "bare",
                    "queues": ["email"],
                    "extraEnv": [],
                    "tolerations": [],
                    "priorityClassName": "",
                    "serviceAccount": {"create": False},
                },
                {"name": "plain", "queues": ["reports"]},
            ],
        }
        objects = render(values)
        own, bare, plain = (
            one(objects, "Deployment", f"demo-tasklane-worker-{n}")
            for n in ("own", "bare", "plain")
        )

        def extra_env(deployment: Obj) -> list[Obj]:
            return [e for e in next(containers(deployment))["env"] if e["name"] in ("A", "B")]

        assert extra_env(own) == [{"name": "A", "value": "own"}]
        assert extra_env(plain) == default_env
        assert pod_spec(own)["tolerations"] == [{"key": "batch", "operator": "Exists"}]
        assert pod_labels(own)["team"] == "core" and pod_labels(own)["tier"] == "fast"
        assert pod_spec(own)["priorityClassName"] == "tasklane-batch"
        account = one(objects, "ServiceAccount", "demo-tasklane-worker-own")
        assert account["metadata"]["annotations"] == {"a": "1", "b": "3"}
        # An empty or false value of a pool switches off what workerDefaults switches on.
        assert extra_env(bare) == []
        assert "tolerations" not in pod_spec(bare)
        assert "priorityClassName" not in pod_spec(bare)
        assert pod_spec(bare)["serviceAccountName"] == "demo-tasklane"
        assert not [
            a for a in of_kind(objects, "ServiceAccount") if "bare" in a["metadata"]["name"]
        ]

    def test_workers_reach_redis_with_the_password_by_reference(self) -> None:
        for deployment in render(show_only=DEPLOYMENT):
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            assert labels["tasklane.io/redis-client"] == "true"
            ref = env_of(next(containers(deployment)))["TASKLANE_REDIS_PASSWORD"]["valueFrom"]
            assert ref == {"secretKeyRef": {"name": "demo-tasklane-redis", "key": "password"}}


class TestWorkerPodDisruptionBudget:
    def test_one_per_pool_matching_the_deployment(self) -> None:
        objects = render(show_only=[*DEPLOYMENT, "worker/worker-poddisruptionbudget.yaml"])
        deployments = of_kind(objects, "Deployment")
        budgets = {p["metadata"]["name"]: p for p in of_kind(objects, "PodDisruptionBudget")}
        assert len(budgets) == len(deployments) == len(DEFAULT_POOLS)
        for deployment in deployments:
            budget = budgets[deployment["metadata"]["name"]]
            assert budget["spec"]["selector"] == deployment["spec"]["selector"]
            assert budget["spec"]["maxUnavailable"] == 1

    def test_a_pool_can_opt_out(self) -> None:
        values = {
            "workers": [
                {"name": "a", "queues": ["default"], "podDisruptionBudget": {"enabled": False}},
                {"name": "b", "queues": ["email"]},
            ]
        }
        budgets = render(values, show_only=["worker/worker-poddisruptionbudget.yaml"])
        assert [b["metadata"]["name"] for b in budgets] == ["demo-tasklane-worker-b"]


class TestWorkerServiceAccount:
    def test_one_per_pool_that_its_pods_run_as(self) -> None:
        objects = render(show_only=[*DEPLOYMENT, "worker/worker-serviceaccount.yaml"])
        accounts = {a["metadata"]["name"]: a for a in of_kind(objects, "ServiceAccount")}
        assert set(accounts) == {"demo-tasklane-worker-general", "demo-tasklane-worker-reports"}
        for deployment in of_kind(objects, "Deployment"):
            name = pod_spec(deployment)["serviceAccountName"]
            assert name == deployment["metadata"]["name"]
            pool = deployment["metadata"]["labels"]["tasklane.io/worker-pool"]
            assert accounts[name]["metadata"]["labels"]["tasklane.io/worker-pool"] == pool
            assert accounts[name]["automountServiceAccountToken"] is False

    def test_a_name_shared_by_every_pool_must_not_be_created_twice(self) -> None:
        named = {"workerDefaults": {"serviceAccount": {"name": "workers"}}}
        with pytest.raises(helm.HelmRenderError, match='"workers" would be created twice'):
            render(named)
        shared = {"workerDefaults": {"serviceAccount": {"create": False, "name": "workers"}}}
        objects = render(shared)
        assert (
            of_kind(
                render(shared, show_only=["worker/worker-serviceaccount.yaml"]), "ServiceAccount"
            )
            == []
        )
        for deployment in of_kind(objects, "Deployment"):
            if "-worker-" in deployment["metadata"]["name"]:
                assert pod_spec(deployment)["serviceAccountName"] == "workers"


class TestWorkerNetworkPolicy:
    def test_nothing_connects_to_workers(self) -> None:
        policy = one(render(show_only=["worker/worker-networkpolicy.yaml"]), "NetworkPolicy")
        assert (
            policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "worker"
        )
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        assert policy["spec"]["ingress"] == []


class TestWorkerNames:
    def test_long_release_and_pool_names_stay_valid_and_distinct(self) -> None:
        pools = [
            {"name": "a" * 24 + "1", "queues": ["default"]},
            {"name": "a" * 24 + "2", "queues": ["email"]},
        ]
        release = "r" * 50
        deployments = render({"workers": pools}, show_only=DEPLOYMENT, name=release)
        names = [d["metadata"]["name"] for d in deployments]
        assert len(set(names)) == 2
        for name in names:
            assert len(name) <= 63 and not name.endswith("-")
            assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name)

    def test_a_pool_name_too_long_is_rejected(self) -> None:
        with pytest.raises(helm.HelmValuesError):
            render({"workers": [{"name": "a" * 26, "queues": ["default"]}]})


def _replica_owners(values: dict[str, object]) -> dict[str, str]:
    """Pool name -> what the release notes say about who sets its replicas."""
    text = notes(values)
    section = text.split("Who sets each worker pool's replicas, and how to change them:\n", 1)[1]
    owners: dict[str, str] = {}
    pool = ""
    for line in section.split("\n\n", 1)[0].splitlines():
        header = re.match(r"  (\S+) \(deployment/\S+\):$", line)
        if header:
            pool = header.group(1)
            owners[pool] = ""
        else:
            owners[pool] += line.strip() + " "
    return owners


class TestNotesOnWorkerReplicas:
    def test_helm_owns_replicas_set_in_the_values(self) -> None:
        owners = _replica_owners({})
        assert set(owners) == {"general", "reports"}
        general = owners["general"]
        assert general.startswith("Helm, replicas 1 from the values")
        assert "workers[name=general].replicas" in general
        assert (
            "kubectl scale --namespace work deployment/demo-tasklane-worker-general --replicas=N "
            "lasts until the next upgrade" in general
        )

    def test_null_replicas_are_left_to_kubectl_scale(self) -> None:
        owners = _replica_owners(COMBINATIONS["two-pools-custom"])
        assert owners["slow"].startswith("you (replicas is null")
        assert (
            "kubectl scale --namespace work deployment/demo-tasklane-worker-slow"
            in (owners["slow"])
        )
        assert owners["fast"].startswith("Helm, replicas 3")

    @pytest.mark.parametrize(
        ("combination", "owner"),
        [
            ("autoscaling-operator", "tasklane's operator, through WorkerAutoscaler"),
            ("autoscaling-keda", "KEDA, through ScaledObject"),
            ("autoscaling-hpa", "the HorizontalPodAutoscaler"),
        ],
    )
    def test_an_autoscaled_pool_names_its_scaler_and_never_suggests_kubectl_scale(
        self, combination: str, owner: str
    ) -> None:
        general = _replica_owners(COMBINATIONS[combination])["general"]
        assert general.startswith(f"{owner} demo-tasklane-worker-general")
        bounds = {"autoscaling-operator": "0-20", "autoscaling-keda": "0-20"}
        assert f"({bounds.get(combination, '2-8')} replicas" in general
        assert "workers[name=general].autoscaling.minReplicas/maxReplicas" in general
        assert "kubectl scale --namespace" not in general
        assert "a kubectl scale is undone" in general
