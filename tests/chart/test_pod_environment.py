"""What a team adds to each component's pods (the API, each worker pool, beat, Flower): extraEnv,
extraEnvFrom, extraVolumes and extraVolumeMounts, podLabels, priorityClassName,
topologySpreadConstraints and ServiceAccount annotations, rendered the same way by each of the
four Deployment templates, and refused where they would clash with what the chart sets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import helm_python as helm
import pytest

from tests.chart.render import (
    COMBINATIONS,
    Obj,
    containers,
    env_of,
    one,
    pod_labels,
    pod_spec,
    render,
)


@dataclass(frozen=True)
class Component:
    name: str  # the Deployment's and its ServiceAccount's name
    template: str
    values: Callable[[Obj], Obj]  # the component's own keys -> chart values
    spread_by_default: bool


COMPONENTS = {
    "api": Component(
        "demo-tasklane-api", "api/api-deployment.yaml", lambda own: {"api": own}, True
    ),
    "worker": Component(
        "demo-tasklane-worker-solo",
        "worker/worker-deployment.yaml",
        lambda own: {"workers": [{"name": "solo", "queues": ["default"], **own}]},
        True,
    ),
    "beat": Component(
        "demo-tasklane-beat", "beat/beat-deployment.yaml", lambda own: {"beat": own}, False
    ),
    "flower": Component(
        "demo-tasklane-flower",
        "flower/flower-deployment.yaml",
        lambda own: {"flower": {"enabled": True, **own}},
        False,
    ),
}

SECRET_ENV = {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}}
TEAM: Obj = {
    "extraEnv": [SECRET_ENV, {"name": "FEATURE_X", "value": "on"}],
    "extraEnvFrom": [{"secretRef": {"name": "team-env"}}, {"configMapRef": {"name": "team-cfg"}}],
    "extraVolumes": [
        {"name": "gcp-key", "secret": {"secretName": "gcp-key"}},
        {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}},
    ],
    "extraVolumeMounts": [
        {"name": "gcp-key", "mountPath": "/var/run/gcp", "readOnly": True},
        {"name": "scratch", "mountPath": "/scratch"},
    ],
    "podLabels": {"team": "payments", "azure.workload.identity/use": "true"},
    "priorityClassName": "tasklane-high",
}


def _deployment(component: Component, own: Obj, extra: Obj | None = None) -> Obj:
    values = {**component.values(own), **(extra or {})}
    return one(render(values, show_only=[component.template]), "Deployment")


@pytest.mark.parametrize("component", COMPONENTS.values(), ids=list(COMPONENTS))
class TestComponentEnvironment:
    def test_extra_env_comes_after_the_charts_own(self, component: Component) -> None:
        (container,) = containers(_deployment(component, TEAM))
        names = [e["name"] for e in container["env"]]
        assert names[-2:] == ["DATABASE_URL", "FEATURE_X"]
        assert env_of(container)["DATABASE_URL"] == SECRET_ENV
        assert "TASKLANE_REDIS_PASSWORD" in names[:-2]

    def test_extra_env_from_comes_after_the_shared_config(self, component: Component) -> None:
        (container,) = containers(_deployment(component, TEAM))
        assert container["envFrom"] == [
            {"configMapRef": {"name": "demo-tasklane-config"}},
            *TEAM["extraEnvFrom"],
        ]

    def test_extra_volumes_beside_tmp_and_mounted(self, component: Component) -> None:
        deployment = _deployment(component, TEAM)
        assert pod_spec(deployment)["volumes"] == [
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
            *TEAM["extraVolumes"],
        ]
        (container,) = containers(deployment)
        assert container["volumeMounts"] == [
            {"name": "tmp", "mountPath": "/tmp"},
            *TEAM["extraVolumeMounts"],
        ]
        # The root filesystem stays read-only: the mounts are where a task may write.
        assert container["securityContext"]["readOnlyRootFilesystem"] is True

    def test_pod_labels_and_priority_class(self, component: Component) -> None:
        deployment = _deployment(component, TEAM)
        labels = pod_labels(deployment)
        assert labels["team"] == "payments"
        assert labels["azure.workload.identity/use"] == "true"
        assert "team" not in deployment["spec"]["selector"]["matchLabels"]
        assert pod_spec(deployment)["priorityClassName"] == "tasklane-high"

    def test_nothing_extra_by_default(self, component: Component) -> None:
        deployment = _deployment(component, {})
        spec = pod_spec(deployment)
        assert "priorityClassName" not in spec
        assert [v["name"] for v in spec["volumes"]] == ["tmp"]
        (container,) = containers(deployment)
        assert container["envFrom"] == [{"configMapRef": {"name": "demo-tasklane-config"}}]
        assert set(pod_labels(deployment)) == set(deployment["metadata"]["labels"]) | {
            "tasklane.io/redis-client"
        }

    def test_spread_across_nodes_by_default_where_replicas_may_be_many(
        self, component: Component
    ) -> None:
        deployment = _deployment(component, {})
        constraints = pod_spec(deployment).get("topologySpreadConstraints")
        if not component.spread_by_default:
            assert constraints is None  # one replica: nothing to spread
            return
        assert constraints == [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": deployment["spec"]["selector"]["matchLabels"]},
                "matchLabelKeys": ["pod-template-hash"],
            }
        ]
        zones = {"defaultTopologySpread": {"topologyKey": "topology.kubernetes.io/zone"}}
        (by_zone,) = pod_spec(_deployment(component, {}, zones))["topologySpreadConstraints"]
        assert by_zone["topologyKey"] == "topology.kubernetes.io/zone"
        off = {"defaultTopologySpread": {"enabled": False}}
        assert "topologySpreadConstraints" not in pod_spec(_deployment(component, {}, off))

    def test_own_constraints_replace_the_default_and_get_the_pods_selector(
        self, component: Component
    ) -> None:
        zone = {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}
        chosen = {**zone, "topologyKey": "rack", "labelSelector": {"matchLabels": {"a": "b"}}}
        deployment = _deployment(component, {"topologySpreadConstraints": [zone, chosen]})
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert pod_spec(deployment)["topologySpreadConstraints"] == [
            {**zone, "labelSelector": {"matchLabels": selector}},
            chosen,
        ]

    def test_own_service_account_with_workload_identity(self, component: Component) -> None:
        annotations = {"iam.gke.io/gcp-service-account": "team@acme.iam.gserviceaccount.com"}
        objects = render(component.values({"serviceAccount": {"annotations": annotations}}))
        account = one(objects, "ServiceAccount", component.name)
        assert account["metadata"]["annotations"] == annotations
        assert account["automountServiceAccountToken"] is False
        deployment = one(objects, "Deployment", component.name)
        assert pod_spec(deployment)["serviceAccountName"] == component.name
        assert pod_spec(deployment)["automountServiceAccountToken"] is False

    def test_an_existing_service_account_is_used_not_created(self, component: Component) -> None:
        objects = render(component.values({"serviceAccount": {"create": False, "name": "mine"}}))
        assert not [
            o
            for o in objects
            if o["metadata"]["name"] == component.name and o["kind"] == "ServiceAccount"
        ]
        assert pod_spec(one(objects, "Deployment", component.name))["serviceAccountName"] == "mine"

    # With Sentinel the chart sets the sentinels' password too.
    @pytest.mark.parametrize(
        "redis", [{}, {"redis": {"architecture": "sentinel"}}], ids=["standalone", "sentinel"]
    )
    def test_every_variable_the_chart_sets_is_refused_in_extra_env(
        self, component: Component, redis: Obj
    ) -> None:
        # Every name the template itself sets (OAuth on, so Flower sets all of its own).
        oauth = {"oauth": {"enabled": True, "allowedEmails": "a@b.org", "existingSecret": "o"}}
        own = oauth if component.name.endswith("-flower") else {}
        (container,) = containers(_deployment(component, own, redis))
        chart_names = [e["name"] for e in container["env"]]
        assert "TASKLANE_REDIS_PASSWORD" in chart_names
        for name in chart_names:
            values = component.values({**own, "extraEnv": [{"name": name, "value": "x"}]})
            with pytest.raises(
                helm.HelmRenderError, match=f"extraEnv sets {name}, which the chart"
            ):
                render({**values, **redis})

    @pytest.mark.parametrize(
        ("own", "message"),
        [
            ({"podLabels": {"app.kubernetes.io/component": "x"}}, "podLabels may not set"),
            ({"podLabels": {"tasklane.io/worker-pool": "x"}}, "podLabels may not set"),
            ({"podLabels": {"helm.sh/chart": "x"}}, "podLabels may not set"),
            ({"extraVolumes": [{"name": "tmp", "emptyDir": {}}]}, 'second volume named "tmp"'),
            (
                {"extraVolumes": [{"name": "a", "emptyDir": {}}, {"name": "a", "emptyDir": {}}]},
                'second volume named "a"',
            ),
            (
                {"extraVolumeMounts": [{"name": "nowhere", "mountPath": "/x"}]},
                'mounts "nowhere", which is not one of its extraVolumes',
            ),
            (
                {
                    "extraVolumes": [{"name": "big", "emptyDir": {}}],
                    "extraVolumeMounts": [{"name": "big", "mountPath": "/tmp/"}],
                },
                "may not mount over /tmp",
            ),
            (
                {"serviceAccount": {"name": "demo-tasklane"}},
                "would be created twice \\(the chart's shared ServiceAccount",
            ),
        ],
        ids=[
            "selector-label",
            "pool-label",
            "helm-label",
            "tmp-volume",
            "twice-named-volume",
            "unknown-mount",
            "over-tmp",
            "shared-account-name",
        ],
    )
    def test_a_clash_with_the_chart_is_refused(
        self, component: Component, own: Obj, message: str
    ) -> None:
        with pytest.raises(helm.HelmRenderError, match=message):
            render(component.values(own))


def test_the_team_combination_renders_each_component_its_own_way() -> None:
    objects = render(COMBINATIONS["team-environment"])
    reports = one(objects, "Deployment", "demo-tasklane-worker-reports")
    general = one(objects, "Deployment", "demo-tasklane-worker-general")
    # The reports pool's list replaces workerDefaults' whole; general keeps the default list.
    assert env_of(next(containers(reports)))["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "reports-db",
        "key": "url",
    }
    assert env_of(next(containers(general)))["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "payments-db",
        "key": "url",
    }
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in env_of(next(containers(general)))
    assert pod_spec(one(objects, "Deployment", "demo-tasklane-beat"))["serviceAccountName"] == (
        "platform-beat"
    )
    accounts = {a["metadata"]["name"]: a for a in objects if a["kind"] == "ServiceAccount"}
    assert "demo-tasklane-beat" not in accounts
    assert accounts["demo-tasklane-worker-reports"]["metadata"]["annotations"] == {
        "iam.gke.io/gcp-service-account": "reports@acme.iam.gserviceaccount.com"
    }
    assert "annotations" not in accounts["demo-tasklane-worker-general"]["metadata"]
