"""Render helm/tasklane with the real Helm engine (helm-python-sdk embeds Helm v4) and read the
result as Kubernetes objects. No cluster and no network: `lookup` returns nothing offline."""

from __future__ import annotations

import copy
import functools
import itertools
import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "helm" / "tasklane"
RELEASE = "demo"
NAMESPACE = "work"
KUBE_VERSION = "1.30.0"

Obj = dict[str, Any]

# The value combinations every chart-wide rule is checked against.
COMBINATIONS: dict[str, Obj] = {
    "defaults": {},
    "external-redis": {
        "redis": {"enabled": False},
        "externalRedis": {"url": "rediss://redis.example:6380/2", "existingSecret": "redis-auth"},
    },
    "redis-sentinel": {"redis": {"architecture": "sentinel"}},
    "external-sentinel": {
        "redis": {"enabled": False},
        "externalRedis": {
            "existingSecret": "redis-auth",
            "sentinel": {
                "addresses": [
                    "redis-node-0.redis-headless:26379",
                    "redis-node-1.redis-headless:26379",
                ],
                "masterName": "mymaster",
                "database": 2,
                "existingSecret": "sentinel-auth",
            },
        },
    },
    "exporter-off": {"exporter": {"enabled": False}},
    "auth-off": {"api": {"auth": {"enabled": False}}},
    "two-pools-custom": {
        "workers": [
            {"name": "fast", "queues": ["default", "email"], "replicas": 3},
            {"name": "slow", "queues": ["reports", "maintenance"], "replicas": None},
        ]
    },
    "monitoring-on": {
        "monitoring": {
            "serviceMonitor": {"enabled": True, "labels": {"release": "kps"}},
            "prometheusRule": {"enabled": True, "labels": {"release": "kps"}},
            "dashboards": {"enabled": True, "annotations": {"grafana_folder": "tasklane"}},
        },
        "networkPolicy": {
            "metricsFrom": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "mon"}}}
            ]
        },
    },
    "network-policy-off": {"networkPolicy": {"enabled": False}},
    "autoscaling-operator": {
        "workers": [
            {
                "name": "general",
                "queues": ["default", "email", "maintenance"],
                "terminationGracePeriodSeconds": 360,
                "autoscaling": {"mode": "operator", "minReplicas": 0, "maxReplicas": 20},
            },
            {"name": "reports", "queues": ["reports"], "concurrency": 2},
        ],
        "monitoring": {"serviceMonitor": {"enabled": True}},
        "networkPolicy": {"metricsFrom": [{"podSelector": {"matchLabels": {"app": "prom"}}}]},
    },
    "autoscaling-keda": {
        "workers": [
            {
                "name": "general",
                "queues": ["default", "email", "maintenance"],
                "terminationGracePeriodSeconds": 360,
                "autoscaling": {"mode": "keda", "minReplicas": 0, "maxReplicas": 20},
            },
            {
                "name": "reports",
                "queues": ["reports"],
                "concurrency": 2,
                "autoscaling": {
                    "mode": "keda",
                    "maxReplicas": 5,
                    "behavior": {"scaleDown": {"stabilizationWindowSeconds": 120}},
                },
            },
        ],
        "networkPolicy": {
            "redisFrom": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}}
            ]
        },
    },
    "autoscaling-hpa": {
        "workerDefaults": {
            "autoscaling": {
                "mode": "hpa",
                "minReplicas": 2,
                "maxReplicas": 8,
                "behavior": {
                    "scaleUp": {"policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}]},
                    "scaleDown": {"stabilizationWindowSeconds": 120},
                },
            }
        },
    },
    "api-autoscaling": {
        "api": {
            "autoscaling": {
                "enabled": True,
                "minReplicas": 3,
                "maxReplicas": 12,
                "targetCPUUtilizationPercentage": 60,
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
            }
        }
    },
    "flower-on": {"flower": {"enabled": True}},
    "flower-ingress-oauth": {
        "flower": {
            "enabled": True,
            "urlPrefix": "ops/flower",
            "basicAuth": {"existingSecret": "flower-users", "existingSecretKey": "users"},
            "oauth": {
                "enabled": True,
                "provider": "flower.views.auth.GithubLoginHandler",
                "allowedEmails": ".*@example\\.org",
                "redirectUri": "https://ops.example/ops/flower/login",
                "existingSecret": "flower-oauth",
            },
            "service": {"annotations": {"team": "ops"}},
            "ingress": {
                "enabled": True,
                "className": "nginx",
                "host": "ops.example",
                "tlsSecretName": "ops-tls",
            },
        },
        "networkPolicy": {
            "flowerFrom": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress"}}}
            ]
        },
    },
    # What a team adds for its own tasks: a secret, a config file, a cloud identity, placement.
    "team-environment": {
        "api": {
            "extraEnv": [{"name": "PAYMENTS_URL", "value": "https://payments.example"}],
            "extraEnvFrom": [{"configMapRef": {"name": "api-tuning"}}],
            "serviceAccount": {
                "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/api"}
            },
            "podLabels": {"team": "payments"},
            "priorityClassName": "tasklane-high",
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "DoNotSchedule",
                }
            ],
        },
        "workerDefaults": {
            "extraEnv": [
                {
                    "name": "DATABASE_URL",
                    "valueFrom": {"secretKeyRef": {"name": "payments-db", "key": "url"}},
                }
            ],
            "podLabels": {"team": "payments"},
            "priorityClassName": "tasklane-batch",
        },
        "workers": [
            {
                "name": "general",
                "queues": ["default", "email", "maintenance"],
                "terminationGracePeriodSeconds": 360,
            },
            {
                "name": "reports",
                "queues": ["reports"],
                "concurrency": 2,
                "extraEnv": [
                    {
                        "name": "DATABASE_URL",
                        "valueFrom": {"secretKeyRef": {"name": "reports-db", "key": "url"}},
                    },
                    {"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": "/var/run/gcp/key.json"},
                ],
                "extraEnvFrom": [{"secretRef": {"name": "reports-env"}}],
                "extraVolumes": [
                    {"name": "gcp-key", "secret": {"secretName": "reports-gcp-key"}},
                    {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}},
                ],
                "extraVolumeMounts": [
                    {"name": "gcp-key", "mountPath": "/var/run/gcp", "readOnly": True},
                    {"name": "scratch", "mountPath": "/scratch"},
                ],
                "serviceAccount": {
                    "annotations": {
                        "iam.gke.io/gcp-service-account": "reports@acme.iam.gserviceaccount.com"
                    }
                },
            },
        ],
        "beat": {
            "extraEnv": [{"name": "TZ", "value": "Europe/Paris"}],
            "podLabels": {"team": "payments"},
            "priorityClassName": "tasklane-high",
            "serviceAccount": {"create": False, "name": "platform-beat"},
        },
        "flower": {
            "enabled": True,
            "extraEnv": [{"name": "FLOWER_MAX_TASKS", "value": "20000"}],
            "serviceAccount": {"annotations": {"azure.workload.identity/client-id": "0000-flower"}},
            "podLabels": {"azure.workload.identity/use": "true"},
        },
        "defaultTopologySpread": {"topologyKey": "topology.kubernetes.io/zone", "maxSkew": 2},
    },
    "shared-accounts-no-spread": {
        "api": {"serviceAccount": {"create": False}},
        "workerDefaults": {"serviceAccount": {"create": False}},
        "beat": {"serviceAccount": {"create": False}},
        "defaultTopologySpread": {"enabled": False},
    },
    "ingress-nodeport": {
        "api": {
            "service": {"type": "NodePort", "nodePort": 30080},
            "ingress": {"enabled": True, "host": "tasklane.example", "tlsSecretName": "tls"},
        },
        "redis": {"persistence": {"enabled": False}, "auth": {"existingSecret": "my-redis"}},
        "image": {"registry": "ghcr.io/acme", "tag": "1.2.3", "pullSecrets": ["regcred"]},
    },
}


@functools.cache
def _chart() -> helm.Chart:
    return helm.Chart.load(CHART_DIR)


@functools.cache
def _render_cached(values_json: str, name: str, namespace: str) -> dict[str, str]:
    return _chart().render(json.loads(values_json), name=name, namespace=namespace, is_install=True)


def render_files(
    values: Obj | None = None, *, name: str = RELEASE, namespace: str = NAMESPACE
) -> dict[str, str]:
    """Template path (e.g. `tasklane/templates/api/api-deployment.yaml`) -> rendered text."""
    rendered = _render_cached(json.dumps(values or {}, sort_keys=True), name, namespace)
    return dict(rendered)


def render(
    values: Obj | None = None,
    *,
    show_only: list[str] | None = None,
    name: str = RELEASE,
    namespace: str = NAMESPACE,
) -> list[Obj]:
    """Every object the chart renders (NOTES.txt aside), optionally only from some templates,
    given relative to templates/, e.g. `["api/api-deployment.yaml"]`."""
    objects: list[Obj] = []
    for path, text in sorted(render_files(values, name=name, namespace=namespace).items()):
        relative = path.split("/templates/", 1)[1]
        if relative == "NOTES.txt" or (show_only is not None and relative not in show_only):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return copy.deepcopy(objects)


def notes(values: Obj | None = None) -> str:
    return render_files(values)["tasklane/templates/NOTES.txt"]


def one(objects: list[Obj], kind: str, name: str | None = None) -> Obj:
    found = [
        o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def of_kind(objects: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind]


def pod_spec(obj: Obj) -> Obj:
    if obj["kind"] == "Pod":
        return obj["spec"]  # type: ignore[no-any-return]
    return obj["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def pod_labels(obj: Obj) -> dict[str, str]:
    if obj["kind"] == "Pod":
        return obj["metadata"]["labels"]  # type: ignore[no-any-return]
    return obj["spec"]["template"]["metadata"]["labels"]  # type: ignore[no-any-return]


def workloads(objects: list[Obj]) -> list[Obj]:
    return [o for o in objects if o["kind"] in ("Deployment", "StatefulSet", "Pod")]


def containers(obj: Obj) -> Iterator[Obj]:
    spec = pod_spec(obj)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def env_of(container: Obj) -> dict[str, Obj]:
    return {e["name"]: e for e in container.get("env", [])}


def validate_schema(values: Obj) -> None:
    """Raises helm_python.HelmValuesError when values.schema.json rejects the values."""
    _chart().validate_schema(values)


def lint(values: Obj | None = None) -> dict[str, Any]:
    return helm.lint(CHART_DIR, values, strict=True, kube_version=f"v{KUBE_VERSION}")


def values_from_command(command: str) -> Obj:
    """The values a `helm install/upgrade` command line passes with --set and --set-json."""
    values: Obj = {}
    for flag, argument in itertools.pairwise(shlex.split(command)):
        if flag == "--set":
            update = helm.parse_set_string(argument)
        elif flag == "--set-json":
            key, _, raw = argument.partition("=")
            update = json.loads(raw)
            for part in reversed(key.split(".")):
                update = {part: update}
        else:
            continue
        _merge(values, update)
    return values


def _merge(into: Obj, update: Obj) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
