"""templates/redis/: the in-chart Redis, its generated password and who may reach it."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest
import redis

from tasklane_devstack.ports import free_port
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
from tests.support.polling import eventually

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

    @pytest.mark.parametrize("password", ['say "hi"', "back\\slash\\", "$HOME 'and' \\x41"])
    def test_a_password_of_the_users_own_secret_starts_redis_as_it_is(
        self, tmp_path: Path, password: str
    ) -> None:
        """The rendered start command and configuration, run on a real redis-server: a
        password holding quotes, backslashes or shell characters is the one Redis asks for."""
        objects = render()
        (container,) = containers(one(objects, "StatefulSet", "demo-tasklane-redis"))
        port = free_port()
        auth_file, config_dir = tmp_path / "auth.conf", tmp_path / "config"
        config_dir.mkdir()
        for name, text in one(objects, "ConfigMap", "demo-tasklane-redis")["data"].items():
            (config_dir / name).write_text(
                text.replace("port 6379", f"port {port}")
                .replace("bind * -::*", "bind 127.0.0.1")
                .replace("dir /data", f"dir {tmp_path}")
                .replace("/tmp/auth.conf", str(auth_file))
            )
        command = (
            container["args"][0]
            .replace("/tmp/auth.conf", str(auth_file))
            .replace("/etc/redis/", f"{config_dir}/")
        )
        server = subprocess.Popen(
            ["sh", "-c", command],
            env={"PATH": os.environ["PATH"], "REDIS_PASSWORD": password},
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=port, password=password, socket_timeout=2)
        try:

            def answers() -> bool:
                try:
                    return bool(client.ping())
                except redis.ConnectionError:
                    assert server.poll() is None, "redis-server did not start"
                    return False

            eventually(answers, timeout_s=15)
            with pytest.raises(redis.AuthenticationError):
                redis.Redis(port=port, password=password[:-1], socket_timeout=2).ping()
        finally:
            client.close()
            server.terminate()
            server.wait(10)

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


SENTINEL = COMBINATIONS["redis-sentinel"]
SENTINEL_STATEFULSET = ["redis/redis-sentinel-statefulset.yaml"]
POD_HOSTS = [f"demo-tasklane-redis-{n}.demo-tasklane-redis-headless.work.svc" for n in range(3)]


class TestRedisSentinelStatefulSet:
    def _statefulset(self, values: Obj = SENTINEL) -> Obj:
        return one(render(values, show_only=SENTINEL_STATEFULSET), "StatefulSet")

    def test_only_with_the_sentinel_architecture(self) -> None:
        assert render(show_only=SENTINEL_STATEFULSET) == []
        assert render(SENTINEL, show_only=STATEFULSET) == []

    def test_three_pods_each_running_redis_and_sentinel(self) -> None:
        statefulset = self._statefulset()
        # The standalone StatefulSet's name, Service and claim: pod 0 keeps its data.
        assert statefulset["metadata"]["name"] == "demo-tasklane-redis"
        assert statefulset["spec"]["serviceName"] == "demo-tasklane-redis-headless"
        assert statefulset["spec"]["replicas"] == 3
        assert statefulset["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
        # After every pod was stopped, each waits for the master it last knew: start together.
        assert statefulset["spec"]["podManagementPolicy"] == "Parallel"
        redis, sentinel = containers(statefulset)
        assert (redis["name"], sentinel["name"]) == ("redis", "sentinel")
        assert redis["image"] == sentinel["image"] == "docker.io/redis:8.2.2-alpine"
        assert redis["command"] == ["sh", "/etc/redis/start-redis.sh"]
        assert sentinel["command"] == ["sh", "/etc/redis/start-sentinel.sh"]
        assert [p["containerPort"] for p in redis["ports"]] == [6379]
        assert [p["containerPort"] for p in sentinel["ports"]] == [26379]
        # A master being stopped hands over to a replica first.
        assert redis["lifecycle"]["preStop"]["exec"]["command"] == [
            "sh",
            "/etc/redis/prestop-redis.sh",
        ]
        assert "master_link_status:up" in " ".join(redis["readinessProbe"]["exec"]["command"])

    def test_each_pod_knows_itself_and_the_others_by_stable_names(self) -> None:
        for container in containers(self._statefulset()):
            env = env_of(container)
            assert env["REDIS_NODES"]["value"] == " ".join(POD_HOSTS)
            assert env["REDIS_SELF"]["value"] == (
                "$(POD_NAME).demo-tasklane-redis-headless.work.svc"
            )
            assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
            assert env["REDIS_MASTER_NAME"]["value"] == "tasklane"
            assert env["SENTINEL_QUORUM"]["value"] == "2"
            for name in ("REDIS_PASSWORD", "REDISCLI_AUTH"):
                assert env[name]["valueFrom"]["secretKeyRef"] == {
                    "name": "demo-tasklane-redis",
                    "key": "password",
                }

    def test_pods_spread_across_nodes_unless_told_otherwise(self) -> None:
        affinity = pod_spec(self._statefulset())["affinity"]["podAntiAffinity"]
        (preferred,) = affinity["preferredDuringSchedulingIgnoredDuringExecution"]
        term = preferred["podAffinityTerm"]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert term["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "redis"
        zones: Obj = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": []}}
        own = self._statefulset({"redis": {"architecture": "sentinel", "affinity": zones}})
        assert pod_spec(own)["affinity"] == zones

    def test_rolls_when_its_config_changes(self) -> None:
        def checksum(values: Obj) -> str:
            annotations = self._statefulset(values)["spec"]["template"]["metadata"]["annotations"]
            return str(annotations["checksum/redis-config"])

        changed = {
            "redis": {"architecture": "sentinel", "sentinel": {"downAfterMilliseconds": 9000}}
        }
        assert checksum(SENTINEL) != checksum(changed)


class TestRedisSentinelConfigMap:
    def _data(self, values: Obj = SENTINEL) -> dict[str, str]:
        config = one(render(values, show_only=["redis/redis-sentinel-configmap.yaml"]), "ConfigMap")
        return dict(config["data"])

    def test_every_node_appends_and_a_master_alone_refuses_writes(self) -> None:
        lines = {line.strip() for line in self._data()["redis.conf"].splitlines()}
        assert {
            "appendonly yes",
            "maxmemory-policy noeviction",
            "min-replicas-to-write 1",
            "min-replicas-max-lag 10",
        } <= lines

    def test_sentinels_know_the_nodes_by_name_and_watch_with_the_values(self) -> None:
        values = {
            "redis": {
                "architecture": "sentinel",
                "sentinel": {"masterName": "queue", "downAfterMilliseconds": 3000},
            }
        }
        data = self._data(values)
        assert "sentinel resolve-hostnames yes" in data["sentinel.conf"]
        assert "sentinel announce-hostnames yes" in data["sentinel.conf"]
        assert "sentinel down-after-milliseconds queue 3000" in data["sentinel-master.conf"]
        # The monitor line names the master found at start-up, with the quorum.
        assert (
            "sentinel monitor $REDIS_MASTER_NAME $master $REDIS_PORT $SENTINEL_QUORUM"
            in (data["start-sentinel.sh"])
        )

    def test_a_starting_pod_asks_the_sentinels_before_choosing(self) -> None:
        data = self._data()
        assert "sentinel get-master-addr-by-name" in data["find-master.sh"]
        assert '. "$REDIS_CONFIG_DIR/find-master.sh"' in data["start-redis.sh"]
        assert "replicaof $master" in data["start-redis.sh"]


class TestRedisSentinelService:
    def test_headless_for_the_pods_and_a_service_for_the_sentinels(self) -> None:
        objects = render(SENTINEL)
        headless = one(objects, "Service", "demo-tasklane-redis-headless")["spec"]
        assert headless["clusterIP"] == "None"
        assert headless["publishNotReadyAddresses"] is True
        assert [p["port"] for p in headless["ports"]] == [6379, 26379]
        sentinels = one(objects, "Service", "demo-tasklane-redis-sentinel")["spec"]
        assert [p["port"] for p in sentinels["ports"]] == [26379]
        # No Service in front of every Redis: a client must reach the master, not any node.
        assert [
            s for s in of_kind(objects, "Service") if s["metadata"]["name"] == "demo-tasklane-redis"
        ] == []

    def test_clients_ask_every_pods_sentinel_for_the_master(self) -> None:
        objects = render(SENTINEL)
        config = one(objects, "ConfigMap", "demo-tasklane-config")["data"]
        assert config["TASKLANE_REDIS_SENTINELS"] == ",".join(f"{h}:26379" for h in POD_HOSTS)
        assert config["TASKLANE_REDIS_MASTER_NAME"] == "tasklane"
        assert config["TASKLANE_REDIS_URL"] == "redis://tasklane/0"
        for workload in workloads(objects):
            if workload["kind"] == "StatefulSet":
                continue
            for container in containers(workload):
                env = env_of(container)
                if "TASKLANE_REDIS_PASSWORD" in env:
                    sentinel = env["TASKLANE_REDIS_SENTINEL_PASSWORD"]["valueFrom"]
                    assert sentinel["secretKeyRef"] == {
                        "name": "demo-tasklane-redis",
                        "key": "password",
                    }


class TestRedisPodDisruptionBudget:
    def test_keeps_a_majority_of_sentinels(self) -> None:
        budget = ["redis/redis-poddisruptionbudget.yaml"]
        assert render(show_only=budget) == []
        assert (
            one(render(SENTINEL, show_only=budget), "PodDisruptionBudget")["spec"]["minAvailable"]
            == 2
        )
        five = {"redis": {"architecture": "sentinel", "sentinel": {"replicas": 5}}}
        assert (
            one(render(five, show_only=budget), "PodDisruptionBudget")["spec"]["minAvailable"] == 3
        )


class TestRedisSentinelNetworkPolicy:
    def test_clients_reach_redis_and_sentinel_and_the_pods_each_other(self) -> None:
        policy = one(
            render(SENTINEL, show_only=["redis/redis-networkpolicy.yaml"]), "NetworkPolicy"
        )
        clients, peers = policy["spec"]["ingress"]
        both = [{"port": "redis", "protocol": "TCP"}, {"port": "sentinel", "protocol": "TCP"}]
        assert clients["ports"] == peers["ports"] == both
        assert (
            clients["from"][0]["podSelector"]["matchLabels"]["tasklane.io/redis-client"] == "true"
        )
        (pods,) = peers["from"]
        statefulset = one(render(SENTINEL, show_only=SENTINEL_STATEFULSET), "StatefulSet")
        assert pods["podSelector"]["matchLabels"].items() <= pod_labels(statefulset).items()
        assert set(pods) == {"podSelector"}  # this namespace, these pods: nobody else


class TestExternalSentinel:
    def test_clients_ask_your_sentinels_with_their_own_password(self) -> None:
        objects = render(COMBINATIONS["external-sentinel"])
        assert not [o for o in objects if "redis" in o["metadata"]["name"]]
        config = one(objects, "ConfigMap", "demo-tasklane-config")["data"]
        assert config["TASKLANE_REDIS_SENTINELS"] == (
            "redis-node-0.redis-headless:26379,redis-node-1.redis-headless:26379"
        )
        assert config["TASKLANE_REDIS_MASTER_NAME"] == "mymaster"
        assert config["TASKLANE_REDIS_URL"] == "redis://mymaster/2"
        api = one(objects, "Deployment", "demo-tasklane-api")
        env = env_of(next(containers(api)))
        assert env["TASKLANE_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "redis-auth"
        sentinel = env["TASKLANE_REDIS_SENTINEL_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert sentinel == {"name": "sentinel-auth", "key": "password"}

    def test_sentinels_without_a_password_get_none(self) -> None:
        values = {
            "redis": {"enabled": False},
            "externalRedis": {
                "existingSecret": "redis-auth",
                "sentinel": {"addresses": ["s:26379"], "masterName": "mymaster"},
            },
        }
        api = one(render(values), "Deployment", "demo-tasklane-api")
        assert "TASKLANE_REDIS_SENTINEL_PASSWORD" not in env_of(next(containers(api)))
