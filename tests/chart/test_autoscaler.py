"""templates/autoscaler/: the operator behind autoscaling.mode=operator, run once for all such
pools, with its own account and a Role holding exactly the calls it makes."""

from __future__ import annotations

import pytest

from tests.chart.render import (
    COMBINATIONS,
    Obj,
    containers,
    env_of,
    of_kind,
    one,
    pod_labels,
    pod_spec,
    render,
)

OPERATOR = COMBINATIONS["autoscaling-operator"]
NAME = "demo-tasklane-autoscaler"
TEMPLATES = [
    "autoscaler/autoscaler-deployment.yaml",
    "autoscaler/autoscaler-networkpolicy.yaml",
    "autoscaler/autoscaler-role.yaml",
    "autoscaler/autoscaler-rolebinding.yaml",
    "autoscaler/autoscaler-service.yaml",
    "autoscaler/autoscaler-serviceaccount.yaml",
]


def _operator_pools(*names: str) -> Obj:
    queues = iter(["default", "email", "reports", "maintenance"])
    return {
        "workers": [
            {"name": name, "queues": [next(queues)], "autoscaling": {"mode": "operator"}}
            for name in names
        ]
    }


def _deployment(values: Obj | None = None) -> Obj:
    return one(
        render(values or OPERATOR, show_only=["autoscaler/autoscaler-deployment.yaml"]),
        "Deployment",
    )


def _rules(values: Obj | None = None) -> list[Obj]:
    role = one(render(values or OPERATOR, show_only=["autoscaler/autoscaler-role.yaml"]), "Role")
    return role["rules"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"workers": [{"name": "a", "queues": ["default"], "autoscaling": {"mode": "keda"}}]},
        {"workers": [{"name": "a", "queues": ["default"], "autoscaling": {"mode": "hpa"}}]},
    ],
    ids=["none", "keda", "hpa"],
    # keda needs Redis reachable from KEDA's namespace; network policies are not the point here.
)
def test_nothing_without_an_operator_pool(values: Obj) -> None:
    values = {**values, "networkPolicy": {"enabled": False}}
    assert render(values, show_only=TEMPLATES) == []


class TestAutoscalerDeployment:
    def test_one_operator_for_every_operator_pool(self) -> None:
        objects = render(_operator_pools("a", "b", "c"), show_only=TEMPLATES)
        assert len(of_kind(objects, "Deployment")) == 1
        deployment = one(objects, "Deployment", NAME)
        # kopf runs standalone: a second replica would scale the pools twice.
        assert deployment["spec"]["replicas"] == 1
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}

    def test_image_named_like_the_other_tasklane_images(self) -> None:
        (container,) = containers(_deployment())
        assert container["image"] == "tasklane-autoscaler:0.1.0"
        values = {**OPERATOR, "image": {"registry": "ghcr.io/acme", "tag": "1.2.3"}}
        assert next(containers(_deployment(values)))["image"] == (
            "ghcr.io/acme/tasklane-autoscaler:1.2.3"
        )
        values = {**OPERATOR, "autoscaler": {"image": {"tag": "9"}}}
        assert next(containers(_deployment(values)))["image"] == "tasklane-autoscaler:9"
        # The image's ENTRYPOINT is `python -m tasklane_autoscaler`: nothing to override.
        assert "command" not in container and "args" not in container

    def test_settings_watch_only_the_release_namespace(self) -> None:
        (container,) = containers(_deployment())
        env = env_of(container)
        assert env["TASKLANE_AUTOSCALER_NAMESPACES"]["value"] == "work"
        assert env["TASKLANE_AUTOSCALER_METRICS_PORT"]["value"] == "9808"
        assert env["TASKLANE_AUTOSCALER_LIVENESS_PORT"]["value"] == "8080"
        assert env["TASKLANE_AUTOSCALER_INSPECT_TIMEOUT_SECONDS"]["value"] == "1"
        assert container["envFrom"] == [{"configMapRef": {"name": "demo-tasklane-config"}}]

    def test_reaches_redis_with_the_password_by_reference(self) -> None:
        deployment = _deployment()
        assert pod_labels(deployment)["tasklane.io/redis-client"] == "true"
        password = env_of(next(containers(deployment)))["TASKLANE_REDIS_PASSWORD"]
        assert password == {
            "name": "TASKLANE_REDIS_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "demo-tasklane-redis", "key": "password"}},
        }
        external = {**OPERATOR, **COMBINATIONS["external-redis"]}
        password = env_of(next(containers(_deployment(external))))["TASKLANE_REDIS_PASSWORD"]
        assert password["valueFrom"] == {"secretKeyRef": {"name": "redis-auth", "key": "password"}}

    def test_probes_kopf_health_and_exposes_metrics(self) -> None:
        (container,) = containers(_deployment())
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"metrics": 9808, "health": 8080}
        for probe in ("livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}

    def test_runs_as_its_own_account_with_a_token(self) -> None:
        spec = pod_spec(_deployment())
        assert spec["serviceAccountName"] == NAME
        assert spec["automountServiceAccountToken"] is True

    def test_ports_follow_values(self) -> None:
        values = {**OPERATOR, "autoscaler": {"metricsPort": 9100, "healthPort": 9101}}
        (container,) = containers(_deployment(values))
        assert env_of(container)["TASKLANE_AUTOSCALER_METRICS_PORT"]["value"] == "9100"
        assert env_of(container)["TASKLANE_AUTOSCALER_LIVENESS_PORT"]["value"] == "9101"
        assert {p["containerPort"] for p in container["ports"]} == {9100, 9101}


class TestAutoscalerRole:
    def test_exactly_the_calls_the_operator_makes(self) -> None:
        granted = {
            (group, resource, verb, tuple(rule.get("resourceNames", [])))
            for rule in _rules()
            for group in rule["apiGroups"]
            for resource in rule["resources"]
            for verb in rule["verbs"]
        }
        target = ("demo-tasklane-worker-general",)
        assert granted == {
            # kopf: list and watch its objects, patch them and their status.
            ("tasklane.io", "workerautoscalers", "get", ()),
            ("tasklane.io", "workerautoscalers", "list", ()),
            ("tasklane.io", "workerautoscalers", "watch", ()),
            ("tasklane.io", "workerautoscalers", "patch", ()),
            ("tasklane.io", "workerautoscalers/status", "get", ()),
            ("tasklane.io", "workerautoscalers/status", "patch", ()),
            # kube.py: read the target Deployment, set its scale subresource.
            ("apps", "deployments", "get", target),
            ("apps", "deployments/scale", "get", target),
            ("apps", "deployments/scale", "patch", target),
            # pod-deletion-cost on the worker pods, found by label selector.
            ("", "pods", "list", ()),
            ("", "pods", "patch", ()),
            # Scaling decisions as Events.
            ("", "events", "create", ()),
        }

    def test_names_only_the_operator_scaled_deployments(self) -> None:
        values = _operator_pools("a", "b")
        values["workers"].append({"name": "fixed", "queues": ["reports"]})
        for rule in _rules(values):
            if rule["apiGroups"] == ["apps"]:
                assert rule["resourceNames"] == ["demo-tasklane-worker-a", "demo-tasklane-worker-b"]

    def test_no_secrets_and_nothing_cluster_wide(self) -> None:
        objects = render(OPERATOR)
        assert not of_kind(objects, "ClusterRole") and not of_kind(objects, "ClusterRoleBinding")
        for rule in _rules():
            assert "secrets" not in rule["resources"]
            assert {"delete", "create", "update", "*"} & set(rule["verbs"]) <= {"create"}


class TestAutoscalerRoleBinding:
    def test_binds_the_role_to_the_operator_account_only(self) -> None:
        objects = render(OPERATOR, show_only=TEMPLATES)
        binding = one(objects, "RoleBinding", NAME)
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": one(objects, "Role")["metadata"]["name"],
        }
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": NAME, "namespace": "work"}
        ]


class TestAutoscalerServiceAccount:
    def test_its_own_account_mounts_nothing_by_default(self) -> None:
        objects = render(OPERATOR)
        account = one(objects, "ServiceAccount", NAME)
        assert account["automountServiceAccountToken"] is False
        # The pods that do not talk to Kubernetes run as accounts no RoleBinding binds.
        bound = {s["name"] for b in of_kind(objects, "RoleBinding") for s in b["subjects"]}
        assert bound == {NAME}
        for deployment in of_kind(objects, "Deployment"):
            if deployment["metadata"]["name"] != NAME:
                assert pod_spec(deployment)["serviceAccountName"] not in bound


class TestAutoscalerService:
    def test_exposes_the_metrics_port(self) -> None:
        service = one(render(OPERATOR, show_only=TEMPLATES), "Service")
        assert service["metadata"]["name"] == NAME
        assert service["spec"]["ports"] == [
            {"name": "metrics", "port": 9808, "targetPort": "metrics", "protocol": "TCP"}
        ]
        assert pod_labels(_deployment()).items() >= service["spec"]["selector"].items()


class TestAutoscalerNetworkPolicy:
    def test_only_listed_scrapers_reach_the_metrics_port(self) -> None:
        policy = one(render(OPERATOR, show_only=TEMPLATES), "NetworkPolicy")
        assert policy["spec"]["podSelector"]["matchLabels"].items() <= (
            pod_labels(_deployment()).items()
        )
        (rule,) = policy["spec"]["ingress"]
        assert rule["from"] == OPERATOR["networkPolicy"]["metricsFrom"]
        assert rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]

    def test_closed_unless_scrapers_are_listed(self) -> None:
        policy = one(render(_operator_pools("a"), show_only=TEMPLATES), "NetworkPolicy")
        assert policy["spec"]["ingress"] == []
