"""templates/flower/: Flower, off by default and never open when on: its Deployment, generated
Secret, Service, Ingress under a URL prefix, NetworkPolicy and ServiceAccount."""

from __future__ import annotations

import base64

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
    pod_labels,
    pod_spec,
    render,
    render_files,
)

ON = COMBINATIONS["flower-on"]
INGRESS_OAUTH = COMBINATIONS["flower-ingress-oauth"]
NAME = "demo-tasklane-flower"
TEMPLATES = [
    "flower/flower-deployment.yaml",
    "flower/flower-secret.yaml",
    "flower/flower-service.yaml",
    "flower/flower-ingress.yaml",
    "flower/flower-networkpolicy.yaml",
    "flower/flower-serviceaccount.yaml",
]


def test_nothing_of_flower_by_default() -> None:
    assert render(show_only=TEMPLATES) == []
    assert "Flower" not in notes()


class TestFlowerDeployment:
    def _deployment(self, values: Obj) -> Obj:
        return one(render(values, show_only=["flower/flower-deployment.yaml"]), "Deployment")

    def test_one_replica_of_the_flower_image_on_the_shared_config(self) -> None:
        deployment = self._deployment(ON)
        assert deployment["metadata"]["name"] == NAME
        assert deployment["spec"]["replicas"] == 1
        (container,) = containers(deployment)
        assert container["image"] == "tasklane-flower:0.1.0"
        assert container["args"] == ["--port=5555"]
        assert container["envFrom"] == [{"configMapRef": {"name": "demo-tasklane-config"}}]
        assert env_of(container)["TASKLANE_REDIS_PASSWORD"]["valueFrom"] == {
            "secretKeyRef": {"name": "demo-tasklane-redis", "key": "password"}
        }
        assert pod_labels(deployment)["tasklane.io/redis-client"] == "true"

    def test_basic_auth_and_cookie_secret_from_the_generated_secret(self) -> None:
        env = env_of(next(containers(self._deployment(ON))))
        assert env["FLOWER_BASIC_AUTH"] == {
            "name": "FLOWER_BASIC_AUTH",
            "valueFrom": {"secretKeyRef": {"name": NAME, "key": "basic-auth"}},
        }
        assert env["FLOWER_COOKIE_SECRET"]["valueFrom"] == {
            "secretKeyRef": {"name": NAME, "key": "cookie-secret"}
        }
        assert not {"FLOWER_AUTH", "FLOWER_OAUTH2_KEY"} & set(env)

    def test_existing_basic_auth_secret_and_oauth_passed_through(self) -> None:
        env = env_of(next(containers(self._deployment(INGRESS_OAUTH))))
        assert env["FLOWER_BASIC_AUTH"]["valueFrom"] == {
            "secretKeyRef": {"name": "flower-users", "key": "users"}
        }
        assert env["FLOWER_AUTH"]["value"] == ".*@example\\.org"
        assert env["FLOWER_AUTH_PROVIDER"]["value"] == "flower.views.auth.GithubLoginHandler"
        assert env["FLOWER_OAUTH2_REDIRECT_URI"]["value"] == "https://ops.example/ops/flower/login"
        assert env["FLOWER_OAUTH2_KEY"]["valueFrom"] == {
            "secretKeyRef": {"name": "flower-oauth", "key": "client-id"}
        }
        assert env["FLOWER_OAUTH2_SECRET"]["valueFrom"] == {
            "secretKeyRef": {"name": "flower-oauth", "key": "client-secret"}
        }

    def test_oauth_alone_drops_basic_auth(self) -> None:
        values = {
            "flower": {
                "enabled": True,
                "basicAuth": {"enabled": False},
                "oauth": {"enabled": True, "allowedEmails": "ops@x.org", "existingSecret": "o"},
            }
        }
        env = env_of(next(containers(self._deployment(values))))
        assert "FLOWER_BASIC_AUTH" not in env
        assert env["FLOWER_AUTH"]["value"] == "ops@x.org"

    def test_probes_call_the_health_check_under_the_url_prefix(self) -> None:
        (plain,) = containers(self._deployment(ON))
        assert plain["livenessProbe"]["httpGet"] == {"path": "/healthcheck", "port": "http"}
        assert plain["readinessProbe"]["httpGet"] == {"path": "/healthcheck", "port": "http"}
        (prefixed,) = containers(self._deployment(INGRESS_OAUTH))
        assert "--url_prefix=ops/flower" in prefixed["args"]
        path = {"path": "/ops/flower/healthcheck", "port": "http"}
        assert prefixed["livenessProbe"]["httpGet"] == prefixed["readinessProbe"]["httpGet"] == path

    def test_locked_down_with_tmp_its_only_writable_path(self) -> None:
        deployment = self._deployment(ON)
        spec = pod_spec(deployment)
        assert spec["automountServiceAccountToken"] is False
        assert spec["enableServiceLinks"] is False
        (container,) = containers(deployment)
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]

    def test_rolls_when_its_generated_secret_changes(self) -> None:
        annotations = self._deployment(ON)["spec"]["template"]["metadata"]["annotations"]
        assert "checksum/flower-secret" in annotations
        assert "checksum/config" in annotations


class TestFlowerSecret:
    def _secret(self, values: Obj) -> Obj:
        return one(render(values, show_only=["flower/flower-secret.yaml"]), "Secret")

    def test_generated_login_and_cookie_secret_kept(self) -> None:
        secret = self._secret(ON)
        assert secret["metadata"]["name"] == NAME
        assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        user, _, password = base64.b64decode(secret["data"]["basic-auth"]).decode().partition(":")
        assert user == "tasklane" and len(password) == 32 and password.isalnum()
        assert len(base64.b64decode(secret["data"]["cookie-secret"])) == 64

    def test_only_the_cookie_secret_with_an_existing_login_secret(self) -> None:
        assert set(self._secret(INGRESS_OAUTH)["data"]) == {"cookie-secret"}

    def test_keeps_what_is_already_in_the_cluster(self) -> None:
        # Offline, `lookup` finds nothing; the template reuses what it finds, like the API keys'.
        text = (CHART_DIR / "templates" / "flower" / "flower-secret.yaml").read_text()
        assert 'lookup "v1" "Secret" .Release.Namespace $name' in text
        assert 'index $kept "basic-auth" | default' in text
        assert 'index $kept "cookie-secret" | default' in text

    def test_no_other_object_holds_the_generated_password(self) -> None:
        files = render_files(ON)
        secret = self._secret(ON)
        login = base64.b64decode(secret["data"]["basic-auth"]).decode()
        for path, text in files.items():
            if not path.endswith("flower/flower-secret.yaml"):
                assert login not in text and login.split(":")[1] not in text, path


class TestFlowerService:
    def test_selects_flower_on_its_port(self) -> None:
        objects = render(INGRESS_OAUTH)
        service = one(objects, "Service", NAME)
        assert service["spec"]["type"] == "ClusterIP"
        assert service["spec"]["ports"] == [
            {"name": "http", "port": 5555, "targetPort": "http", "protocol": "TCP"}
        ]
        assert service["metadata"]["annotations"] == {"team": "ops"}
        assert (
            service["spec"]["selector"].items()
            <= pod_labels(one(objects, "Deployment", NAME)).items()
        )


class TestFlowerIngress:
    def test_off_unless_asked(self) -> None:
        assert render(ON, show_only=["flower/flower-ingress.yaml"]) == []

    def test_routes_the_url_prefix_to_flower(self) -> None:
        ingress = one(render(INGRESS_OAUTH, show_only=["flower/flower-ingress.yaml"]), "Ingress")
        assert ingress["spec"]["ingressClassName"] == "nginx"
        assert ingress["spec"]["tls"] == [{"hosts": ["ops.example"], "secretName": "ops-tls"}]
        (rule,) = ingress["spec"]["rules"]
        assert rule["host"] == "ops.example"
        (path,) = rule["http"]["paths"]
        assert path["path"] == "/ops/flower" and path["pathType"] == "Prefix"
        assert path["backend"]["service"] == {"name": NAME, "port": {"name": "http"}}

    def test_root_path_without_a_prefix(self) -> None:
        values = {"flower": {"enabled": True, "ingress": {"enabled": True, "host": "f.example"}}}
        ingress = one(render(values, show_only=["flower/flower-ingress.yaml"]), "Ingress")
        assert ingress["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/"


class TestFlowerNetworkPolicy:
    def test_its_port_only_from_anywhere_by_default(self) -> None:
        policy = one(render(ON, show_only=["flower/flower-networkpolicy.yaml"]), "NetworkPolicy")
        assert (
            policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "flower"
        )
        assert policy["spec"]["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]

    def test_only_the_listed_peers_when_given(self) -> None:
        policy = one(
            render(INGRESS_OAUTH, show_only=["flower/flower-networkpolicy.yaml"]), "NetworkPolicy"
        )
        (rule,) = policy["spec"]["ingress"]
        assert rule["from"] == INGRESS_OAUTH["networkPolicy"]["flowerFrom"]
        assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]

    def test_flower_may_reach_redis(self) -> None:
        objects = render(ON)
        redis_policy = one(objects, "NetworkPolicy", "demo-tasklane-redis")
        allowed = redis_policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
        assert allowed.items() <= pod_labels(one(objects, "Deployment", NAME)).items()


class TestFlowerServiceAccount:
    def test_its_own_account_with_workload_identity_annotations(self) -> None:
        values = {
            "flower": {
                "enabled": True,
                "serviceAccount": {"annotations": {"azure.workload.identity/client-id": "x"}},
            }
        }
        objects = render(values)
        account = one(objects, "ServiceAccount", NAME)
        assert account["metadata"]["annotations"] == {"azure.workload.identity/client-id": "x"}
        assert account["automountServiceAccountToken"] is False
        assert pod_spec(one(objects, "Deployment", NAME))["serviceAccountName"] == NAME


class TestFlowerNotes:
    def test_tell_how_to_reach_flower_and_read_the_generated_login(self) -> None:
        text = notes(ON)
        assert (
            "kubectl port-forward --namespace work service/demo-tasklane-flower 5555:5555" in text
        )
        assert (
            "kubectl get secret --namespace work demo-tasklane-flower"
            ' -o jsonpath="{.data.basic-auth}" | base64 -d'
        ) in text

    def test_name_the_ingress_url_the_login_secret_and_the_provider(self) -> None:
        text = notes(INGRESS_OAUTH)
        assert "https://ops.example/ops/flower/" in text
        assert 'Secret flower-users, key "users"' in text
        assert "then log in with Github as .*@example\\.org" in text


@pytest.mark.parametrize(
    ("flower", "message"),
    [
        ({"basicAuth": {"enabled": False}}, "would leave Flower open"),
        (
            {"oauth": {"enabled": True, "allowedEmails": "a@b.org"}},
            "needs flower.oauth.existingSecret",
        ),
        ({"oauth": {"enabled": True, "existingSecret": "o"}}, "needs flower.oauth.allowedEmails"),
        ({"ingress": {"enabled": True}}, "flower.ingress.enabled needs flower.ingress.host"),
        ({"enabled": False, "ingress": {"enabled": True, "host": "f"}}, "set flower.enabled=true"),
    ],
)
def test_refuses_what_cannot_work(flower: Obj, message: str) -> None:
    with pytest.raises(helm.HelmRenderError, match=message):
        render({"flower": {"enabled": True, **flower}})


@pytest.mark.parametrize("prefix", ["/flower", "flower/", "a b", "../x"])
def test_a_prefix_with_slashes_at_either_end_or_odd_characters_is_refused(prefix: str) -> None:
    with pytest.raises(helm.HelmValuesError):
        render({"flower": {"enabled": True, "urlPrefix": prefix}})


def test_every_flower_object_is_labelled_as_flower() -> None:
    for obj in render(INGRESS_OAUTH, show_only=TEMPLATES):
        assert obj["metadata"]["labels"]["app.kubernetes.io/component"] == "flower", obj["kind"]
    assert len(of_kind(render(INGRESS_OAUTH, show_only=TEMPLATES), "Deployment")) == 1
