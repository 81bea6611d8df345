"""The lock-down rules, on every container of every combination: non-root, read-only root
filesystem, no privilege escalation, all capabilities dropped, RuntimeDefault seccomp, requests
and limits, pinned images, and secrets only ever by reference."""

from __future__ import annotations

import base64
import re

import pytest

from tests.chart.render import (
    COMBINATIONS,
    Obj,
    containers,
    env_of,
    of_kind,
    pod_spec,
    render,
    workloads,
)

CASES = sorted(COMBINATIONS)


def _all_containers(combination: str) -> list[tuple[str, Obj, Obj]]:
    found = []
    for workload in workloads(render(COMBINATIONS[combination])):
        for container in containers(workload):
            found.append(
                (f"{workload['metadata']['name']}/{container['name']}", workload, container)
            )
    assert found
    return found


def _asked_mount_paths(values: Obj) -> set[str]:
    """The mountPaths of every extraVolumeMounts in the values."""
    components = [values.get(key, {}) for key in ("api", "workerDefaults", "beat", "flower")]
    components += values.get("workers", [])
    return {m["mountPath"] for c in components for m in c.get("extraVolumeMounts", [])}


@pytest.mark.parametrize("combination", CASES)
class TestPodSecurity:
    def test_pods_run_as_non_root_with_runtime_default_seccomp(self, combination: str) -> None:
        for workload in workloads(render(COMBINATIONS[combination])):
            context = pod_spec(workload)["securityContext"]
            assert context["runAsNonRoot"] is True
            assert context["runAsUser"] > 0
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}

    def test_containers_are_locked_down(self, combination: str) -> None:
        for where, _, container in _all_containers(combination):
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True, where
            assert context["runAsUser"] > 0, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["privileged"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where

    def test_containers_have_requests_and_limits(self, combination: str) -> None:
        for where, _, container in _all_containers(combination):
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) == {"cpu", "memory"}, where

    def test_images_are_pinned(self, combination: str) -> None:
        for where, _, container in _all_containers(combination):
            image = container["image"]
            name, _, tag = image.rpartition(":")
            assert name and "/" not in tag, f"{where}: {image} has no tag"
            assert tag != "latest", where
            assert re.fullmatch(r"[\w.-]+", tag), where

    def test_only_the_autoscaler_mounts_a_service_account_token(self, combination: str) -> None:
        objects = render(COMBINATIONS[combination])
        bound = {
            subject["name"]
            for binding in of_kind(objects, "RoleBinding")
            for subject in binding["subjects"]
        }
        for workload in workloads(objects):
            spec = pod_spec(workload)
            talks_to_kubernetes = workload["metadata"]["name"] == "demo-tasklane-autoscaler"
            assert spec["automountServiceAccountToken"] is talks_to_kubernetes
            assert (spec["serviceAccountName"] in bound) is talks_to_kubernetes
        for account in of_kind(objects, "ServiceAccount"):
            assert account["automountServiceAccountToken"] is False

    def test_no_cluster_wide_or_wildcard_permissions(self, combination: str) -> None:
        objects = render(COMBINATIONS[combination])
        assert of_kind(objects, "ClusterRole") == of_kind(objects, "ClusterRoleBinding") == []
        for role in of_kind(objects, "Role"):
            for rule in role["rules"]:
                for key in ("apiGroups", "resources", "verbs"):
                    assert "*" not in rule[key], role["metadata"]["name"]

    def test_tmp_is_the_only_writable_path_besides_redis_data(self, combination: str) -> None:
        # Besides /tmp, only where the values ask for it: a user's extraVolumeMounts.
        asked = _asked_mount_paths(COMBINATIONS[combination])
        for where, workload, container in _all_containers(combination):
            mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
            assert mounts["/tmp"]["name"] == "tmp", where
            volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
            assert "emptyDir" in volumes["tmp"], where
            # A mount with no pod volume comes from a volumeClaimTemplate (Redis' data).
            writable = {
                path
                for path, mount in mounts.items()
                if not mount.get("readOnly")
                and not {"configMap", "secret"} & set(volumes.get(mount["name"], {}))
            }
            # Redis' data; with Sentinel, the sentinel's own state beside it.
            redis = container["name"] in ("redis", "sentinel")
            allowed = {"/tmp", "/data"} if redis else {"/tmp"}
            assert writable <= allowed | asked, where


@pytest.mark.parametrize("combination", CASES)
class TestSecretsStayReferences:
    def test_env_values_hold_no_secret(self, combination: str) -> None:
        objects = render(COMBINATIONS[combination])
        secrets = [
            base64.b64decode(v).decode()
            for s in of_kind(objects, "Secret")
            for v in s.get("data", {}).values()
        ]
        for workload in workloads(objects):
            for container in containers(workload):
                for var in container.get("env", []):
                    value = var.get("value", "")
                    assert not any(secret in value for secret in secrets), var["name"]
                    assert not re.search(r"redis[s]?://[^/@]*:[^/@$]+@", value), var["name"]

    def test_password_variables_come_from_secret_key_refs(self, combination: str) -> None:
        seen = 0
        for workload in workloads(render(COMBINATIONS[combination])):
            for container in containers(workload):
                for name, var in env_of(container).items():
                    if "PASSWORD" in name or name in ("REDISCLI_AUTH", "TASKLANE_API_KEYS"):
                        assert "value" not in var, name
                        assert set(var["valueFrom"]) == {"secretKeyRef"}, name
                        seen += 1
        assert seen >= 4

    def test_api_keys_are_required_and_referenced_unless_auth_is_off(
        self, combination: str
    ) -> None:
        values = COMBINATIONS[combination]
        required = values.get("api", {}).get("auth", {}).get("enabled", True)
        api_pods = [
            w
            for w in workloads(render(values))
            if w["metadata"]["name"] in ("demo-tasklane-api", "demo-tasklane-api-test")
        ]
        assert len(api_pods) == 2
        for workload in api_pods:
            (container,) = containers(workload)
            keys = env_of(container).get("TASKLANE_API_KEYS")
            if not required:
                assert keys is None
                continue
            assert keys is not None
            assert "value" not in keys
            assert set(keys["valueFrom"]) == {"secretKeyRef"}

    def test_config_maps_hold_no_password(self, combination: str) -> None:
        for config_map in of_kind(render(COMBINATIONS[combination]), "ConfigMap"):
            for key, value in config_map["data"].items():
                assert "PASSWORD" not in key
                # A start script may write the password from the environment (a printf %s or a
                # $variable), never hold one.
                literal = r'(requirepass|masterauth|auth-pass \S+|sentinel-pass)\s+(?!"?(%s|\$))\S'
                assert not re.search(literal, value), (config_map["metadata"]["name"], key)
