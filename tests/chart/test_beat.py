"""templates/beat/: one schedule owner, even during a rollout."""

from __future__ import annotations

from tests.chart.render import containers, env_of, one, render

BEAT = ["beat/beat-deployment.yaml"]


class TestBeatDeployment:
    def test_single_replica_replaced_not_rolled(self) -> None:
        deployment = one(render(show_only=BEAT), "Deployment")
        assert deployment["metadata"]["name"] == "demo-tasklane-beat"
        assert deployment["spec"]["replicas"] == 1
        # Recreate stops the old beat before the new one starts: no two owners mid-rollout.
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        (container,) = containers(deployment)
        assert container["image"] == "tasklane-beat:0.1.0"
        assert "TASKLANE_REDIS_PASSWORD" in env_of(container)

    def test_liveness_checks_the_heartbeat_beat_writes_also_while_waiting(self) -> None:
        deployment = one(
            render({"beat": {"heartbeatMaxAgeSeconds": 90}}, show_only=BEAT), "Deployment"
        )
        (container,) = containers(deployment)
        command = ["python", "-m", "tasklane_beat.liveness", "--max-age", "90"]
        for probe in ("startupProbe", "livenessProbe"):
            assert container[probe]["exec"]["command"] == command
        # No Service and no traffic: nothing for readiness to gate.
        assert "readinessProbe" not in container
        heartbeat = env_of(container)["TASKLANE_BEAT_HEARTBEAT_FILE"]["value"]
        mount = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}["tmp"]
        assert heartbeat.startswith(mount + "/")
        skips = " ".join(deployment["metadata"]["annotations"].values())
        assert "CKV_K8S_8" not in skips  # liveness is there now
        assert "CKV_K8S_9" in skips

    def test_replicas_are_not_a_value(self) -> None:
        import helm_python as helm
        import pytest

        with pytest.raises(helm.HelmValuesError):
            render({"beat": {"replicas": 2}})

    def test_schedule_overrides_reach_beat_through_the_config(self) -> None:
        objects = render({"config": {"beatSchedule": {"cleanup": 600, "report": None}}})
        config = one(objects, "ConfigMap", "demo-tasklane-config")["data"]
        assert config["TASKLANE_BEAT_SCHEDULE"] == '{"cleanup":600,"report":null}'
        beat = one(objects, "Deployment", "demo-tasklane-beat")
        envfrom = next(containers(beat))["envFrom"]
        assert envfrom == [{"configMapRef": {"name": "demo-tasklane-config"}}]

    def test_can_be_switched_off(self) -> None:
        objects = render({"beat": {"enabled": False}})
        assert not [o for o in objects if "beat" in o["metadata"]["name"]]


class TestBeatNetworkPolicy:
    def test_nothing_connects_to_beat(self) -> None:
        policy = one(render(show_only=["beat/beat-networkpolicy.yaml"]), "NetworkPolicy")
        assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "beat"
        assert policy["spec"]["ingress"] == []


class TestBeatServiceAccount:
    def test_its_own_account_unless_beat_is_off(self) -> None:
        template = ["beat/beat-serviceaccount.yaml"]
        account = one(render(show_only=template), "ServiceAccount")
        assert account["metadata"]["name"] == "demo-tasklane-beat"
        assert account["automountServiceAccountToken"] is False
        assert render({"beat": {"enabled": False}}, show_only=template) == []
