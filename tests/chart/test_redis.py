"""templates/redis/: the in-chart Redis, its generated password and who may reach it."""

from __future__ import annotations

import base64

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
    workloads,
)

STATEFULSET = ["redis/redis-statefulset.yaml"]


class TestRedisStatefulSet:
    def test_official_image_pinned_with_a_persistent_volume(self) -> None:
        statefulset = one(render(show_only=STATEFULSET), "StatefulSet")
        assert statefulset["spec"]["replicas"] == 1
        assert statefulset["spec"]["serviceName"] == "demo-tasklane-redis-headless"
        (container,) = containers(statefulset)
        assert container["image"] == "docker.io/redis:8.2.2-alpine"
        (claim,) = statefulset["spec"]["volumeClaimTemplates"]
        assert claim["metadata"]["name"] == "data"
        assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
        assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]

    def test_runs_as_the_same_unprivileged_user_as_everything_else(self) -> None:
        statefulset = one(render(show_only=STATEFULSET), "StatefulSet")
        assert pod_spec(statefulset)["securityContext"]["runAsUser"] == 10001
        # fsGroup makes the data volume writable for that user.
        assert pod_spec(statefulset)["securityContext"]["fsGroup"] == 10001
        assert next(containers(statefulset))["securityContext"]["runAsUser"] == 10001
        # The image's entrypoint (which would chown and switch users) is not used.
        assert next(containers(statefulset))["command"] == ["sh", "-c"]

    def test_without_persistence_data_lives_on_an_empty_dir(self) -> None:
        values = {"redis": {"persistence": {"enabled": False}}}
        statefulset = one(render(values, show_only=STATEFULSET), "StatefulSet")
        assert "volumeClaimTemplates" not in statefulset["spec"]
        volumes = {v["name"]: v for v in pod_spec(statefulset)["volumes"]}
        assert "emptyDir" in volumes["data"]

    def test_password_reaches_redis_as_a_file_not_an_argument(self) -> None:
        (container,) = containers(one(render(show_only=STATEFULSET), "StatefulSet"))
        assert "$REDIS_PASSWORD" in container["args"][0]
        assert "/tmp/auth.conf" in container["args"][0]
        assert "--requirepass" not in " ".join(container["args"])
        env = env_of(container)
        for name in ("REDIS_PASSWORD", "REDISCLI_AUTH"):
            assert env[name]["valueFrom"]["secretKeyRef"] == {
                "name": "demo-tasklane-redis",
                "key": "password",
            }

    def test_rolls_when_its_config_changes(self) -> None:
        def checksum(values: Obj) -> str:
            statefulset = one(render(values, show_only=STATEFULSET), "StatefulSet")
            annotations = statefulset["spec"]["template"]["metadata"]["annotations"]
            return str(annotations["checksum/redis-config"])

        assert checksum({}) == checksum({})
        assert checksum({}) != checksum({"redis": {"maxmemory": "100mb"}})


class TestRedisConfigMap:
    def test_append_only_and_never_evicting(self) -> None:
        config = one(render(show_only=["redis/redis-configmap.yaml"]), "ConfigMap")
        lines = {line.strip() for line in config["data"]["redis.conf"].splitlines()}
        assert {
            "appendonly yes",
            "maxmemory-policy noeviction",
            "maxmemory 200mb",
            "include /tmp/auth.conf",
            "dir /data",
        } <= lines


class TestRedisSecret:
    def test_generated_password_with_keep_policy(self) -> None:
        secret = one(render(show_only=["redis/redis-secret.yaml"]), "Secret")
        assert secret["metadata"]["name"] == "demo-tasklane-redis"
        assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        password = base64.b64decode(secret["data"]["password"]).decode()
        assert len(password) == 40 and password.isalnum()

    def test_no_secret_rendered_for_an_existing_one(self) -> None:
        values = {"redis": {"auth": {"existingSecret": "mine", "existingSecretKey": "pw"}}}
        objects = render(values)
        assert render(values, show_only=["redis/redis-secret.yaml"]) == []
        assert "demo-tasklane-redis" not in {
            s["metadata"]["name"] for s in of_kind(objects, "Secret")
        }
        for workload in workloads(objects):
            for container in containers(workload):
                for var in container.get("env", []):
                    if var["name"] == "TASKLANE_API_KEYS":
                        continue
                    if "secretKeyRef" in var.get("valueFrom", {}):
                        assert var["valueFrom"]["secretKeyRef"] == {"name": "mine", "key": "pw"}

    def test_external_redis_renders_no_redis_at_all(self) -> None:
        objects = render(COMBINATIONS["external-redis"])
        assert not [o for o in objects if "redis" in o["metadata"]["name"]]
        config = one(objects, "ConfigMap", "demo-tasklane-config")["data"]
        assert config["TASKLANE_REDIS_URL"] == "rediss://redis.example:6380/2"


class TestRedisService:
    def test_cluster_ip_and_headless_services(self) -> None:
        services = {
            s["metadata"]["name"]: s for s in render(show_only=["redis/redis-service.yaml"])
        }
        assert services["demo-tasklane-redis"]["spec"]["ports"][0]["port"] == 6379
        assert services["demo-tasklane-redis-headless"]["spec"]["clusterIP"] == "None"
        objects = render()
        config = one(objects, "ConfigMap", "demo-tasklane-config")["data"]
        assert config["TASKLANE_REDIS_URL"] == "redis://demo-tasklane-redis:6379/0"


class TestRedisNetworkPolicy:
    def _policy(self) -> Obj:
        return one(render(show_only=["redis/redis-networkpolicy.yaml"]), "NetworkPolicy")

    def test_selects_the_redis_pods(self) -> None:
        statefulset = one(render(show_only=STATEFULSET), "StatefulSet")
        selector = self._policy()["spec"]["podSelector"]["matchLabels"]
        assert selector.items() <= pod_labels(statefulset).items()
        assert selector["app.kubernetes.io/component"] == "redis"

    def test_only_this_releases_redis_clients_get_in(self) -> None:
        (rule,) = self._policy()["spec"]["ingress"]
        assert rule["ports"] == [{"port": "redis", "protocol": "TCP"}]
        (peer,) = rule["from"]
        assert set(peer) == {"podSelector"}  # no namespaceSelector: this namespace only
        wanted = peer["podSelector"]["matchLabels"]
        assert wanted == {"app.kubernetes.io/instance": "demo", "tasklane.io/redis-client": "true"}
        admitted = {
            w["metadata"]["name"]
            for w in workloads(render())
            if wanted.items() <= pod_labels(w).items()
        }
        assert admitted == {
            "demo-tasklane-api",
            "demo-tasklane-beat",
            "demo-tasklane-exporter",
            "demo-tasklane-worker-general",
            "demo-tasklane-worker-reports",
        }

    def test_another_release_is_not_admitted(self) -> None:
        (rule,) = self._policy()["spec"]["ingress"]
        wanted = rule["from"][0]["podSelector"]["matchLabels"]
        other = render(name="other")
        assert not any(wanted.items() <= pod_labels(w).items() for w in workloads(other))

    def test_the_autoscaler_is_admitted(self) -> None:
        objects = render(COMBINATIONS["autoscaling-operator"])
        (rule,) = one(objects, "NetworkPolicy", "demo-tasklane-redis")["spec"]["ingress"]
        wanted = rule["from"][0]["podSelector"]["matchLabels"]
        operator = one(objects, "Deployment", "demo-tasklane-autoscaler")
        assert wanted.items() <= pod_labels(operator).items()

    def test_listed_peers_are_admitted_too(self) -> None:
        keda = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}}
        values = {"networkPolicy": {"redisFrom": [keda]}}
        policy = one(render(values, show_only=["redis/redis-networkpolicy.yaml"]), "NetworkPolicy")
        (rule,) = policy["spec"]["ingress"]
        assert rule["from"][1:] == [keda]
        assert rule["ports"] == [{"port": "redis", "protocol": "TCP"}]
