"""Every object the chart renders is valid against the Kubernetes 1.30 schemas (strict: no
unknown fields), for the defaults and each combination of values."""

from __future__ import annotations

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from tests.chart.render import COMBINATIONS, KUBE_VERSION, Obj, render

# Custom resources have no schema in kubernetes-validate; their shape is tested per template.
CUSTOM_API_GROUPS = ("monitoring.coreos.com/",)


def _builtin(objects: list[Obj]) -> list[Obj]:
    return [o for o in objects if not o["apiVersion"].startswith(CUSTOM_API_GROUPS)]


class TestKubernetesSchemas:
    @pytest.mark.parametrize("combination", sorted(COMBINATIONS))
    def test_every_object_is_valid(self, combination: str) -> None:
        objects = _builtin(render(COMBINATIONS[combination]))
        assert len(objects) > 10
        for obj in objects:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)

    def test_validation_catches_a_broken_object(self) -> None:
        deployment = next(o for o in render() if o["kind"] == "Deployment")
        deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicie"] = "Always"
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)

    @pytest.mark.parametrize("combination", sorted(COMBINATIONS))
    def test_every_object_is_namespaced_and_labelled(self, combination: str) -> None:
        for obj in render(COMBINATIONS[combination]):
            meta = obj["metadata"]
            assert meta["namespace"] == "work", meta["name"]
            assert meta["labels"]["app.kubernetes.io/instance"] == "demo"
            assert meta["labels"]["app.kubernetes.io/part-of"] == "tasklane"
            assert len(meta["name"]) <= 63
