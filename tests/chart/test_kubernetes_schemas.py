"""Every object the chart renders is valid against the Kubernetes 1.30 schemas (strict: no
unknown fields), for the defaults and each combination of values. WorkerAutoscalers are valid
against the openAPIV3Schema of the CRD the chart ships."""

from __future__ import annotations

from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tests.chart.render import CHART_DIR, COMBINATIONS, KUBE_VERSION, Obj, render

# Custom resources have no schema in kubernetes-validate. WorkerAutoscaler's schema is the CRD in
# the chart's crds/; the other operators' kinds are checked field by field in their template's
# tests.
CHART_CRD = CHART_DIR / "crds" / "workerautoscaler.yaml"
THIRD_PARTY_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
}


def _crd_schema() -> tuple[str, str, dict[str, Any]]:
    crd = yaml.safe_load(CHART_CRD.read_text())
    (version,) = crd["spec"]["versions"]
    api_version = f"{crd['spec']['group']}/{version['name']}"
    return api_version, crd["spec"]["names"]["kind"], version["schema"]["openAPIV3Schema"]


def _builtin(objects: list[Obj]) -> list[Obj]:
    custom = {*THIRD_PARTY_KINDS, _crd_schema()[:2]}
    return [o for o in objects if (o["apiVersion"], o["kind"]) not in custom]


def _validate_custom(obj: Obj) -> None:
    """Schema-check a WorkerAutoscaler; fail on any custom kind nobody checks."""
    api_version, kind, schema = _crd_schema()
    if (obj["apiVersion"], obj["kind"]) == (api_version, kind):
        jsonschema.validate(obj, schema)
    else:
        assert (obj["apiVersion"], obj["kind"]) in THIRD_PARTY_KINDS, obj["kind"]


class TestKubernetesSchemas:
    # `tasklane` is the README's release name: its fullname drops the chart's name.
    @pytest.mark.parametrize("release", ["demo", "tasklane"])
    @pytest.mark.parametrize("combination", sorted(COMBINATIONS))
    def test_every_object_is_valid(self, combination: str, release: str) -> None:
        objects = render(COMBINATIONS[combination], name=release)
        builtin = _builtin(objects)
        assert len(builtin) > 10
        for obj in builtin:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        for obj in objects:
            if obj not in builtin:
                _validate_custom(obj)

    def test_validation_catches_a_broken_object(self) -> None:
        deployment = next(o for o in render() if o["kind"] == "Deployment")
        deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicie"] = "Always"
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)

    def test_validation_catches_a_broken_worker_autoscaler(self) -> None:
        objects = render(COMBINATIONS["autoscaling-operator"])
        autoscaler = next(o for o in objects if o["kind"] == "WorkerAutoscaler")
        _validate_custom(autoscaler)
        autoscaler["spec"]["maxReplicas"] = 0
        with pytest.raises(jsonschema.ValidationError):
            _validate_custom(autoscaler)

    @pytest.mark.parametrize("combination", sorted(COMBINATIONS))
    def test_every_object_is_namespaced_and_labelled(self, combination: str) -> None:
        for obj in render(COMBINATIONS[combination]):
            meta = obj["metadata"]
            assert meta["namespace"] == "work", meta["name"]
            assert meta["labels"]["app.kubernetes.io/instance"] == "demo"
            assert meta["labels"]["app.kubernetes.io/part-of"] == "tasklane"
            assert len(meta["name"]) <= 63
