"""templates/api/: the API Deployment, Service, Ingress, PDB, NetworkPolicy and helm test pod."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import helm_python as helm
import pytest

from tests.chart.render import (
    CHART_DIR,
    COMBINATIONS,
    Obj,
    containers,
    env_of,
    notes,
    of_kind,
    one,
    pod_spec,
    render,
    render_files,
)
from tests.conftest import Stack


class TestApiDeployment:
    def _deployment(self, values: Obj | None = None) -> Obj:
        return one(render(values, show_only=["api/api-deployment.yaml"]), "Deployment")

    def test_runs_the_api_image_listening_on_all_interfaces(self) -> None:
        deployment = self._deployment({"api": {"replicas": 3}})
        assert deployment["metadata"]["name"] == "demo-tasklane-api"
        assert deployment["spec"]["replicas"] == 3
        (container,) = containers(deployment)
        assert container["image"] == "tasklane-api:0.1.0"
        env = env_of(container)
        assert env["TASKLANE_API_HOST"]["value"] == "0.0.0.0"
        assert env["TASKLANE_API_PORT"]["value"] == "8000"
        assert container["envFrom"] == [{"configMapRef": {"name": "demo-tasklane-config"}}]

    def test_probes_ask_whether_the_pod_answers_not_whether_redis_is_up(self) -> None:
        # /readyz as readiness would take every replica out of the Service in a Redis outage;
        # test_redis_outage.py gets 200 from this path on a real API while Redis is down.
        (container,) = containers(self._deployment())
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]

    def test_image_registry_and_tag_overrides(self) -> None:
        (shared,) = containers(
            self._deployment({"image": {"registry": "ghcr.io/acme/", "tag": "2.0"}})
        )
        assert shared["image"] == "ghcr.io/acme/tasklane-api:2.0"
        (own,) = containers(
            self._deployment({"image": {"tag": "2.0"}, "api": {"image": {"tag": "2.1"}}})
        )
        assert own["image"] == "tasklane-api:2.1"

    def test_rolls_when_the_shared_config_changes(self) -> None:
        def checksum(values: Obj) -> str:
            annotations = self._deployment(values)["spec"]["template"]["metadata"]["annotations"]
            return str(annotations["checksum/config"])

        assert checksum({}) == checksum({})
        assert checksum({}) != checksum({"config": {"logLevel": "DEBUG"}})
        assert checksum({}) != checksum({"config": {"visibilityTimeoutSeconds": 7200}})

    def test_rolls_when_the_generated_redis_secret_changes(self) -> None:
        annotations = self._deployment()["spec"]["template"]["metadata"]["annotations"]
        assert "checksum/redis-secret" in annotations
        external = self._deployment({"redis": {"auth": {"existingSecret": "mine"}}})
        assert (
            "checksum/redis-secret" not in external["spec"]["template"]["metadata"]["annotations"]
        )

    def test_scheduling_keys_pass_through(self) -> None:
        spec = pod_spec(
            self._deployment(
                {
                    "api": {
                        "nodeSelector": {"pool": "web"},
                        "tolerations": [{"key": "k", "operator": "Exists"}],
                    }
                }
            )
        )
        assert spec["nodeSelector"] == {"pool": "web"}
        assert spec["tolerations"] == [{"key": "k", "operator": "Exists"}]

    def test_api_keys_come_from_the_generated_secret_by_default(self) -> None:
        (container,) = containers(self._deployment())
        keys = env_of(container)["TASKLANE_API_KEYS"]
        assert keys == {
            "name": "TASKLANE_API_KEYS",
            "valueFrom": {"secretKeyRef": {"name": "demo-tasklane-api-keys", "key": "api-keys"}},
        }

    def test_api_keys_come_from_an_existing_secret_when_named(self) -> None:
        values = {"api": {"auth": {"existingSecret": "tasklane-keys", "existingSecretKey": "k"}}}
        (container,) = containers(self._deployment(values))
        keys = env_of(container)["TASKLANE_API_KEYS"]
        assert "value" not in keys
        assert keys["valueFrom"] == {"secretKeyRef": {"name": "tasklane-keys", "key": "k"}}

    def test_api_is_open_when_auth_is_off(self) -> None:
        (container,) = containers(self._deployment(COMBINATIONS["auth-off"]))
        assert "TASKLANE_API_KEYS" not in env_of(container)
        # An existing Secret named while auth is off is not used either.
        values = {"api": {"auth": {"enabled": False, "existingSecret": "tasklane-keys"}}}
        (container,) = containers(self._deployment(values))
        assert "TASKLANE_API_KEYS" not in env_of(container)

    def test_rolls_when_the_generated_api_key_secret_changes(self) -> None:
        def annotations(values: Obj) -> dict[str, str]:
            deployment = self._deployment(values)
            return deployment["spec"]["template"]["metadata"]["annotations"]  # type: ignore[no-any-return]

        assert "checksum/api-keys-secret" in annotations({})
        assert "checksum/api-keys-secret" not in annotations(
            {"api": {"auth": {"existingSecret": "tasklane-keys"}}}
        )
        assert "checksum/api-keys-secret" not in annotations(COMBINATIONS["auth-off"])

    def test_image_pull_secrets(self) -> None:
        spec = pod_spec(self._deployment({"image": {"pullSecrets": ["regcred"]}}))
        assert spec["imagePullSecrets"] == [{"name": "regcred"}]
        assert "imagePullSecrets" not in pod_spec(self._deployment())

    def test_autoscaling_leaves_replicas_to_the_horizontal_pod_autoscaler(self) -> None:
        values = {"api": {"replicas": 4, "autoscaling": {"enabled": True}}}
        assert "replicas" not in self._deployment(values)["spec"]
        assert self._deployment({"api": {"replicas": 4}})["spec"]["replicas"] == 4

    def test_runs_as_its_own_service_account(self) -> None:
        assert pod_spec(self._deployment())["serviceAccountName"] == "demo-tasklane-api"
        shared = {"api": {"serviceAccount": {"create": False}}}
        assert pod_spec(self._deployment(shared))["serviceAccountName"] == "demo-tasklane"
        existing = {"api": {"serviceAccount": {"create": False, "name": "payments-api"}}}
        assert pod_spec(self._deployment(existing))["serviceAccountName"] == "payments-api"


API_KEYS_SECRET = ["api/api-keys-secret.yaml"]
HPA = ["api/api-horizontalpodautoscaler.yaml"]


class TestApiHorizontalPodAutoscaler:
    def test_off_by_default(self) -> None:
        assert render(show_only=HPA) == []

    def test_scales_the_api_deployment_on_cpu_within_its_bounds(self) -> None:
        values = COMBINATIONS["api-autoscaling"]
        hpa = one(render(values, show_only=HPA), "HorizontalPodAutoscaler")
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["metadata"]["name"] == "demo-tasklane-api"
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "demo-tasklane-api",
        }
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
        (metric,) = hpa["spec"]["metrics"]
        assert metric["resource"] == {
            "name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 60},
        }
        assert hpa["spec"]["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 300}}

    def test_no_behavior_keeps_kubernetes_defaults(self) -> None:
        hpa = one(
            render({"api": {"autoscaling": {"enabled": True}}}, show_only=HPA),
            "HorizontalPodAutoscaler",
        )
        assert "behavior" not in hpa["spec"]
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)

    def test_the_disruption_budget_leaves_a_pod_at_the_minimum(self) -> None:
        values = {"api": {"autoscaling": {"enabled": True, "minReplicas": 2}}}
        objects = render(values)
        budget = one(objects, "PodDisruptionBudget", "demo-tasklane-api")
        hpa = one(objects, "HorizontalPodAutoscaler", "demo-tasklane-api")
        assert budget["spec"]["maxUnavailable"] < hpa["spec"]["minReplicas"]
        with pytest.raises(helm.HelmRenderError, match="minReplicas \\(1\\) must exceed"):
            render({"api": {"autoscaling": {"enabled": True, "minReplicas": 1}}})
        # A percentage always leaves pods, and a switched-off budget constrains nothing.
        render(
            {
                "api": {
                    "autoscaling": {"enabled": True, "minReplicas": 1},
                    "podDisruptionBudget": {"maxUnavailable": "50%"},
                }
            }
        )
        render(
            {
                "api": {
                    "autoscaling": {"enabled": True, "minReplicas": 1},
                    "podDisruptionBudget": {"enabled": False},
                }
            }
        )

    def test_refuses_a_minimum_above_the_maximum(self) -> None:
        with pytest.raises(
            helm.HelmRenderError, match=r"must not exceed api\.autoscaling\.maxReplicas"
        ):
            render({"api": {"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 4}}})


class TestApiServiceAccount:
    def test_created_with_its_annotations(self) -> None:
        role = {"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/api"}
        values = {"api": {"serviceAccount": {"annotations": role}}}
        account = one(render(values, show_only=["api/api-serviceaccount.yaml"]), "ServiceAccount")
        assert account["metadata"]["name"] == "demo-tasklane-api"
        assert account["metadata"]["annotations"] == role
        assert account["automountServiceAccountToken"] is False

    def test_named_or_not_created(self) -> None:
        named = {"api": {"serviceAccount": {"name": "payments-api"}}}
        account = one(render(named, show_only=["api/api-serviceaccount.yaml"]), "ServiceAccount")
        assert account["metadata"]["name"] == "payments-api"
        off = {"api": {"serviceAccount": {"create": False, "name": "payments-api"}}}
        assert render(off, show_only=["api/api-serviceaccount.yaml"]) == []


class TestApiKeysSecret:
    def test_generated_key_with_keep_policy(self) -> None:
        secret = one(render(show_only=API_KEYS_SECRET), "Secret")
        assert secret["metadata"]["name"] == "demo-tasklane-api-keys"
        assert secret["metadata"]["namespace"] == "work"
        assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert set(secret["data"]) == {"api-keys"}
        key = base64.b64decode(secret["data"]["api-keys"]).decode()
        assert len(key) == 40 and key.isalnum()

    def test_keeps_the_key_already_in_the_cluster(self) -> None:
        # Offline, `lookup` finds nothing; the template reuses what it finds, like Redis's.
        text = (CHART_DIR / "templates" / API_KEYS_SECRET[0]).read_text()
        assert 'lookup "v1" "Secret" .Release.Namespace $name' in text
        assert 'api-keys: {{ index $existing.data "api-keys" }}' in text

    def test_none_for_an_existing_secret(self) -> None:
        values = {"api": {"auth": {"existingSecret": "tasklane-keys"}}}
        assert render(values, show_only=API_KEYS_SECRET) == []
        names = {s["metadata"]["name"] for s in of_kind(render(values), "Secret")}
        assert names == {"demo-tasklane-redis"}

    def test_none_when_auth_is_off(self) -> None:
        assert render(COMBINATIONS["auth-off"], show_only=API_KEYS_SECRET) == []

    def test_no_other_object_holds_the_generated_key(self) -> None:
        files = render_files()
        secret = one(render(show_only=API_KEYS_SECRET), "Secret")
        key = base64.b64decode(secret["data"]["api-keys"]).decode()
        for path, text in files.items():
            if not path.endswith(API_KEYS_SECRET[0]):
                assert key not in text, path


class TestApiService:
    def test_cluster_ip_by_default(self) -> None:
        service = one(render(show_only=["api/api-service.yaml"]), "Service")
        assert service["spec"]["type"] == "ClusterIP"
        assert service["spec"]["ports"] == [
            {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
        ]
        assert service["spec"]["selector"]["app.kubernetes.io/component"] == "api"

    def test_node_port_for_kind(self) -> None:
        values = {"api": {"service": {"type": "NodePort", "nodePort": 30080}}}
        service = one(render(values, show_only=["api/api-service.yaml"]), "Service")
        assert service["spec"]["type"] == "NodePort"
        assert service["spec"]["ports"][0]["nodePort"] == 30080


class TestApiIngress:
    def test_off_by_default(self) -> None:
        assert render(show_only=["api/api-ingress.yaml"]) == []

    def test_routes_the_host_to_the_api_service(self) -> None:
        values = {
            "api": {
                "ingress": {
                    "enabled": True,
                    "host": "t.example",
                    "className": "nginx",
                    "tlsSecretName": "t-tls",
                }
            }
        }
        ingress = one(render(values, show_only=["api/api-ingress.yaml"]), "Ingress")
        assert ingress["spec"]["ingressClassName"] == "nginx"
        assert ingress["spec"]["tls"] == [{"hosts": ["t.example"], "secretName": "t-tls"}]
        (rule,) = ingress["spec"]["rules"]
        assert rule["host"] == "t.example"
        backend = rule["http"]["paths"][0]["backend"]["service"]
        assert backend == {"name": "demo-tasklane-api", "port": {"name": "http"}}


class TestApiPodDisruptionBudget:
    def test_selects_the_api_pods(self) -> None:
        pdb = one(render(show_only=["api/api-poddisruptionbudget.yaml"]), "PodDisruptionBudget")
        deployment = one(render(show_only=["api/api-deployment.yaml"]), "Deployment")
        assert pdb["spec"]["maxUnavailable"] == 1
        assert pdb["spec"]["selector"] == deployment["spec"]["selector"]

    def test_can_be_switched_off(self) -> None:
        values = {"api": {"podDisruptionBudget": {"enabled": False}}}
        assert render(values, show_only=["api/api-poddisruptionbudget.yaml"]) == []


class TestApiNetworkPolicy:
    def test_api_accepts_traffic_from_anywhere_on_its_port_only(self) -> None:
        policy = one(render(show_only=["api/api-networkpolicy.yaml"]), "NetworkPolicy")
        assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "api"
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        assert policy["spec"]["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]

    def test_off_when_network_policies_are_off(self) -> None:
        values = {"networkPolicy": {"enabled": False}}
        assert render(values, show_only=["api/api-networkpolicy.yaml"]) == []


class TestApiTestPod:
    def _pod(self, values: Obj | None = None) -> Obj:
        return one(render(values, show_only=["api/api-test-pod.yaml"]), "Pod")

    def test_is_a_helm_test_hook(self) -> None:
        pod = self._pod()
        assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
        assert pod["spec"]["restartPolicy"] == "Never"

    def test_submits_text_process_through_the_api_service(self) -> None:
        (container,) = containers(self._pod({"api": {"service": {"port": 8080}}}))
        assert container["image"] == "tasklane-api:0.1.0"
        assert env_of(container)["API_URL"]["value"] == "http://demo-tasklane-api:8080"
        script = container["args"][0]
        compile(script, "helm-test", "exec")
        assert '"/v1/tasks/text.process", {"data": "hello"}' in script
        assert '"SUCCESS"' in script and '{"processed_data": "HELLO"}' in script

    @pytest.mark.slow
    def test_script_passes_against_a_running_stack(self, stack: Stack) -> None:
        # The exact script the pod runs, against a real API, worker and Redis.
        (container,) = containers(self._pod())
        env = {**os.environ, "API_URL": stack.base_url, "TIMEOUT_S": "60"}
        done = subprocess.run(
            [sys.executable, "-c", container["args"][0]],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "result {'processed_data': 'HELLO'}" in done.stdout

    def test_sends_the_generated_api_key_by_default(self) -> None:
        (container,) = containers(self._pod())
        keys = env_of(container)["TASKLANE_API_KEYS"]
        assert "value" not in keys
        assert keys["valueFrom"] == {
            "secretKeyRef": {"name": "demo-tasklane-api-keys", "key": "api-keys"}
        }
        assert 'headers["Authorization"] = "Bearer " + keys[0]' in container["args"][0]

    def test_sends_a_key_from_an_existing_secret(self) -> None:
        values = {"api": {"auth": {"existingSecret": "tasklane-keys"}}}
        (container,) = containers(self._pod(values))
        assert env_of(container)["TASKLANE_API_KEYS"]["valueFrom"]["secretKeyRef"] == {
            "name": "tasklane-keys",
            "key": "api-keys",
        }

    def test_sends_no_key_when_auth_is_off(self) -> None:
        (container,) = containers(self._pod(COMBINATIONS["auth-off"]))
        assert "TASKLANE_API_KEYS" not in env_of(container)

    def test_script_fails_when_the_api_is_unreachable(self) -> None:
        (container,) = containers(self._pod())
        env = {**os.environ, "API_URL": "http://127.0.0.1:9", "TIMEOUT_S": "5"}
        done = subprocess.run(
            [sys.executable, "-c", container["args"][0]],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode != 0

    def test_can_be_left_out(self) -> None:
        assert render({"tests": {"enabled": False}}, show_only=["api/api-test-pod.yaml"]) == []


@pytest.mark.parametrize("service_type", ["ClusterIP", "NodePort", "LoadBalancer"])
def test_notes_tell_how_to_reach_the_api(service_type: str) -> None:

    text = notes({"api": {"service": {"type": service_type}}})
    assert "/v1/tasks/text.process" in text
    assert "helm test demo --namespace work" in text
    assert (
        "kubectl scale --namespace work deployment/demo-tasklane-worker-general --replicas=N"
        in text
    )


class TestNotesOnApiKeys:
    def test_tell_how_to_read_the_generated_key_and_send_it(self) -> None:
        text = notes()
        assert (
            "export TASKLANE_API_KEY=$(kubectl get secret --namespace work demo-tasklane-api-keys"
            ' -o jsonpath="{.data.api-keys}" | base64 -d)'
        ) in text
        assert '-H "Authorization: Bearer $TASKLANE_API_KEY"' in text
        assert "The API is open" not in text

    def test_name_an_existing_secret(self) -> None:
        text = notes({"api": {"auth": {"existingSecret": "tasklane-keys"}}})
        assert "Secret tasklane-keys" in text
        assert "demo-tasklane-api-keys" not in text
        assert '-H "Authorization: Bearer $TASKLANE_API_KEY"' in text

    def test_say_in_one_line_that_the_api_is_open_when_auth_is_off(self) -> None:
        text = notes(COMBINATIONS["auth-off"])
        assert "Authorization" not in text and "TASKLANE_API_KEY" not in text
        (line,) = [line for line in text.splitlines() if "open" in line]
        assert line.startswith("The API is open: api.auth.enabled is false")
