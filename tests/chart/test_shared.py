"""Top-level templates: the shared ConfigMap, the ServiceAccount and the monitoring objects."""

from __future__ import annotations

from tests.chart.render import COMBINATIONS, of_kind, one, pod_spec, render, workloads


class TestConfigMap:
    def test_carries_the_shared_settings_and_no_secret(self) -> None:
        config = one(render(show_only=["tasklane-configmap.yaml"]), "ConfigMap")
        assert config["metadata"]["name"] == "demo-tasklane-config"
        assert config["data"] == {
            "TASKLANE_ENVIRONMENT": "production",
            "TASKLANE_LOG_LEVEL": "INFO",
            "TASKLANE_REDIS_URL": "redis://demo-tasklane-redis:6379/0",
            "TASKLANE_VISIBILITY_TIMEOUT_S": "3600",
            "TASKLANE_WORKER_LEASE_S": "15",
            "TASKLANE_RESULT_EXPIRES_S": "86400",
            "TASKLANE_MAX_BODY_BYTES": "65536",
            "TASKLANE_RATE_LIMIT_PER_MINUTE": "0",
            "TASKLANE_BEAT_SCHEDULE": "{}",
        }

    def test_every_tasklane_process_reads_it(self) -> None:
        objects = render()
        for deployment in of_kind(objects, "Deployment"):
            if deployment["metadata"]["name"].endswith("-exporter"):
                continue
            container = deployment["spec"]["template"]["spec"]["containers"][0]
            assert container["envFrom"] == [{"configMapRef": {"name": "demo-tasklane-config"}}]


class TestServiceAccount:
    def test_a_shared_account_without_a_token_for_redis_the_exporter_and_the_test_pod(
        self,
    ) -> None:
        account = one(render(show_only=["tasklane-serviceaccount.yaml"]), "ServiceAccount")
        assert account["automountServiceAccountToken"] is False
        users = {
            w["metadata"]["name"]
            for w in workloads(render())
            if pod_spec(w)["serviceAccountName"] == account["metadata"]["name"]
        }
        assert users == {"demo-tasklane-redis", "demo-tasklane-exporter", "demo-tasklane-api-test"}

    def test_components_without_an_account_of_their_own_use_it(self) -> None:
        own = {"serviceAccount": {"create": False}}
        values = {
            "api": own,
            "beat": own,
            "workerDefaults": own,
            "flower": {"enabled": True, **own},
        }
        objects = render(values)
        assert [a["metadata"]["name"] for a in of_kind(objects, "ServiceAccount")] == [
            "demo-tasklane"
        ]
        for deployment in of_kind(objects, "Deployment"):
            assert pod_spec(deployment)["serviceAccountName"] == "demo-tasklane"


class TestServiceMonitor:
    def test_off_by_default(self) -> None:
        assert of_kind(render(), "ServiceMonitor") == []

    def test_scrapes_the_autoscaler_when_it_runs(self) -> None:
        objects = render(COMBINATIONS["autoscaling-operator"])
        monitors = {m["metadata"]["name"]: m for m in of_kind(objects, "ServiceMonitor")}
        assert set(monitors) == {
            "demo-tasklane-api",
            "demo-tasklane-exporter",
            "demo-tasklane-autoscaler",
        }
        monitor = monitors["demo-tasklane-autoscaler"]
        service = one(objects, "Service", "demo-tasklane-autoscaler")
        assert monitor["spec"]["selector"]["matchLabels"].items() <= (
            service["metadata"]["labels"].items()
        )
        assert monitor["spec"]["endpoints"][0]["port"] == "metrics"

    def test_scrapes_the_api_and_the_exporter(self) -> None:
        objects = render(COMBINATIONS["monitoring-on"])
        monitors = {m["metadata"]["name"]: m for m in of_kind(objects, "ServiceMonitor")}
        assert set(monitors) == {"demo-tasklane-api", "demo-tasklane-exporter"}
        for name, monitor in monitors.items():
            assert monitor["metadata"]["labels"]["release"] == "kps"
            service = one(objects, "Service", name)
            wanted = monitor["spec"]["selector"]["matchLabels"]
            assert wanted.items() <= service["metadata"]["labels"].items()
            (endpoint,) = monitor["spec"]["endpoints"]
            assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
            assert endpoint["path"] == "/metrics"

    def test_exporter_job_names_celery_and_every_target_gets_its_release(self) -> None:
        objects = render(COMBINATIONS["autoscaling-operator"])
        for monitor in of_kind(objects, "ServiceMonitor"):
            (endpoint,) = monitor["spec"]["endpoints"]
            relabelings = endpoint["relabelings"]
            assert {
                "sourceLabels": ["__meta_kubernetes_service_label_app_kubernetes_io_instance"],
                "targetLabel": "release",
            } in relabelings
            jobs = [r["replacement"] for r in relabelings if r["targetLabel"] == "job"]
            if monitor["metadata"]["name"].endswith("-exporter"):
                # The alert rules and the celery-mixin dashboards find the exporter by this.
                assert jobs == ["demo-tasklane-celery-exporter"]
            else:
                assert jobs == []
