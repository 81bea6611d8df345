"""A pod the chart renders, as `podman run` arguments: its environment (ConfigMaps and Secrets
read from the same render), command and args, securityContext, resource limits and volumes, and
its probes as checks to run. A key the translation does not know raises, so a chart change can
never be dropped silently and leave the images tested against something else.

Two things stand in for the cluster: Services become `--add-host <service>:<pod IP>` entries
(no cluster DNS on a podman network), and, with no kube-proxy to map a Service port to its
target port, `<service>:<port>` in an environment value is rewritten to the target port."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tests.chart.render import Obj, pod_labels, pod_spec, workloads

# Kubernetes `$(NAME)` references inside env values; `$$(NAME)` escapes one.
REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|k|M|G)?$")
BINARY_SUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 10**3, "M": 10**6, "G": 10**9}
ProbeKind = Literal["startupProbe", "livenessProbe", "readinessProbe"]
PROBE_KINDS: tuple[ProbeKind, ...] = ("startupProbe", "livenessProbe", "readinessProbe")


class UnsupportedByHarness(ValueError):
    """The rendered pod uses something the podman translation does not implement."""


@dataclass(frozen=True)
class Probe:
    kind: ProbeKind
    action: Literal["exec", "httpGet", "tcpSocket"]
    command: tuple[str, ...] = ()
    path: str = "/"
    port: int = 0
    timeout_s: float = 1.0


class Rendered:
    """The objects of one render, looked up the way the kubelet would."""

    def __init__(self, objects: list[Obj]) -> None:
        self.objects = objects

    def get(self, kind: str, name: str) -> Obj:
        for obj in self.objects:
            if obj["kind"] == kind and obj["metadata"]["name"] == name:
                return obj
        raise KeyError(f"the render has no {kind} {name}")

    def workload(self, name: str) -> Obj:
        for obj in workloads(self.objects):
            if obj["metadata"]["name"] == name:
                return obj
        raise KeyError(f"the render has no workload {name}")

    def config_map_data(self, name: str) -> dict[str, str]:
        data: dict[str, str] = self.get("ConfigMap", name).get("data", {})
        return data

    def secret_data(self, name: str) -> dict[str, str]:
        secret = self.get("Secret", name)
        decoded = {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
        return {**decoded, **secret.get("stringData", {})}


def the_container(workload: Obj) -> Obj:
    spec = pod_spec(workload)
    if spec.get("initContainers") or len(spec["containers"]) != 1:
        raise UnsupportedByHarness(f"{workload['metadata']['name']}: not a one-container pod")
    container: Obj = spec["containers"][0]
    return container


def expand(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes' `$(NAME)` expansion: a defined name is replaced, an undefined one kept."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return REFERENCE.sub(replace, value)


def container_env(container: Obj, rendered: Rendered) -> dict[str, str]:
    """The environment the kubelet gives the container: envFrom first, then env in order."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            data = rendered.config_map_data(source["configMapRef"]["name"])
        elif "secretRef" in source:
            data = rendered.secret_data(source["secretRef"]["name"])
        else:
            raise UnsupportedByHarness(f"envFrom {source}")
        env.update({prefix + key: value for key, value in data.items()})
    for variable in container.get("env", []):
        name = variable["name"]
        if "value" in variable:
            env[name] = expand(str(variable["value"]), env)
            continue
        source = variable.get("valueFrom", {})
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            env[name] = rendered.secret_data(ref["name"])[ref["key"]]
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            env[name] = rendered.config_map_data(ref["name"])[ref["key"]]
        else:
            raise UnsupportedByHarness(f"env {name}: {source}")
    return env


def _security(workload: Obj, container: Obj) -> dict[str, Any]:
    """The container's securityContext over the pod's (the container's keys win)."""
    pod = dict(pod_spec(workload).get("securityContext", {}))
    return {**pod, **container.get("securityContext", {})}


def security_args(workload: Obj, container: Obj) -> list[str]:
    merged = _security(workload, container)
    args: list[str] = []
    user, group = merged.pop("runAsUser", None), merged.pop("runAsGroup", None)
    if merged.pop("runAsNonRoot", False) and user in (None, 0):
        raise UnsupportedByHarness("runAsNonRoot without a non-zero runAsUser to run as")
    if user is not None:
        args.append(f"--user={user}" + (f":{group}" if group is not None else ""))
    if "fsGroup" in merged:
        args.append(f"--group-add={merged.pop('fsGroup')}")
    if merged.pop("readOnlyRootFilesystem", False):
        # podman mounts tmpfs on /tmp, /run and /var/tmp of a read-only container unless told
        # not to; Kubernetes gives only the volumes the pod declares.
        args += ["--read-only", "--read-only-tmpfs=false"]
    if merged.pop("allowPrivilegeEscalation", True) is False:
        args.append("--security-opt=no-new-privileges")
    if merged.pop("privileged", False):
        args.append("--privileged")
    capabilities = merged.pop("capabilities", {})
    args += [f"--cap-drop={c}" for c in capabilities.pop("drop", [])]
    args += [f"--cap-add={c}" for c in capabilities.pop("add", [])]
    seccomp = merged.pop("seccompProfile", {"type": "RuntimeDefault"})
    if seccomp != {"type": "RuntimeDefault"} or capabilities:
        raise UnsupportedByHarness(f"securityContext {seccomp} {capabilities}")
    if merged:
        raise UnsupportedByHarness(f"securityContext keys {sorted(merged)}")
    return args


def quantity(value: str | int | float) -> float:
    """A Kubernetes quantity (`500m`, `256Mi`, `1`) as a plain number."""
    match = QUANTITY.match(str(value))
    if not match:
        raise UnsupportedByHarness(f"quantity {value!r}")
    number, suffix = float(match.group(1)), match.group(2)
    if suffix == "m":
        return number / 1000
    return number * BINARY_SUFFIX.get(suffix or "", 1)


def resource_args(container: Obj) -> list[str]:
    limits = container.get("resources", {}).get("limits", {})
    args = []
    if "memory" in limits:
        args.append(f"--memory={int(quantity(limits['memory']))}")
    if "cpu" in limits:
        args.append(f"--cpus={quantity(limits['cpu']):g}")
    return args


def volume_args(workload: Obj, container: Obj, rendered: Rendered, scratch: Path) -> list[str]:
    """Mounts of the container: an emptyDir (or a PVC's volume) is a fresh tmpfs, a ConfigMap
    or Secret volume a read-only directory of its keys written under `scratch`."""
    spec = pod_spec(workload)
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for claim in workload.get("spec", {}).get("volumeClaimTemplates", []):
        volumes[claim["metadata"]["name"]] = {"name": claim["metadata"]["name"], "claim": claim}
    args = []
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        target = mount["mountPath"]
        if "emptyDir" in volume or "claim" in volume:
            size = volume.get("emptyDir", {}).get("sizeLimit")
            options = f"type=tmpfs,destination={target},tmpfs-mode=1777"
            if size:
                options += f",tmpfs-size={int(quantity(size))}"
            args.append(f"--mount={options}")
        elif "configMap" in volume or "secret" in volume:
            if "configMap" in volume:
                data = rendered.config_map_data(volume["configMap"]["name"])
            else:
                data = rendered.secret_data(volume["secret"]["secretName"])
            directory = scratch / f"{workload['metadata']['name']}-{mount['name']}"
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o755)
            for key, value in data.items():
                (directory / key).write_text(value)
                (directory / key).chmod(0o644)
            args.append(f"--volume={directory}:{target}:ro")
        else:
            raise UnsupportedByHarness(f"volume {volume}")
    return args


def container_port(container: Obj, port: int | str) -> int:
    """A probe's or Service's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    for declared in container.get("ports", []):
        if declared.get("name") == port:
            number: int = declared["containerPort"]
            return number
    raise KeyError(f"container {container['name']} has no port named {port}")


def probes(container: Obj) -> list[Probe]:
    found = []
    for kind in PROBE_KINDS:
        probe = container.get(kind)
        if probe is None:
            continue
        timeout_s = float(probe.get("timeoutSeconds", 1))
        if "exec" in probe:
            command = tuple(probe["exec"]["command"])
            found.append(Probe(kind, "exec", command=command, timeout_s=timeout_s))
        elif "httpGet" in probe:
            get = probe["httpGet"]
            if get.get("scheme", "HTTP") != "HTTP" or get.get("httpHeaders"):
                raise UnsupportedByHarness(f"{kind} {get}")
            port = container_port(container, get["port"])
            path = get.get("path", "/")
            found.append(Probe(kind, "httpGet", path=path, port=port, timeout_s=timeout_s))
        elif "tcpSocket" in probe:
            port = container_port(container, probe["tcpSocket"]["port"])
            found.append(Probe(kind, "tcpSocket", port=port, timeout_s=timeout_s))
        else:
            raise UnsupportedByHarness(f"{kind}: {probe}")
    return found


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def service_backends(rendered: Rendered) -> Iterator[tuple[str, str, dict[int, int]]]:
    """(Service name, name of the workload behind it, {Service port: container port})."""
    for service in rendered.objects:
        if service["kind"] != "Service":
            continue
        selector = service["spec"].get("selector", {})
        for workload in workloads(rendered.objects):
            if workload["kind"] != "Pod" and _selects(selector, pod_labels(workload)):
                container = the_container(workload)
                ports = {
                    p["port"]: container_port(container, p.get("targetPort", p["port"]))
                    for p in service["spec"]["ports"]
                }
                yield service["metadata"]["name"], workload["metadata"]["name"], ports
                break


def through_services(value: str, ports: Mapping[str, Mapping[int, int]]) -> str:
    """`<service>:<port>` in an environment value, pointed at the port behind the Service."""
    for service, mapping in ports.items():
        for port, target in mapping.items():
            address = re.compile(rf"(?<![\w.-]){re.escape(service)}:{port}(?!\d)")
            value = address.sub(f"{service}:{target}", value)
    return value


def command_args(container: Obj) -> tuple[list[str], list[str]]:
    """(`--entrypoint` option if the container sets command, the args after the image)."""
    entrypoint = []
    if "command" in container:
        entrypoint = [f"--entrypoint={json.dumps([str(c) for c in container['command']])}"]
    return entrypoint, [str(a) for a in container.get("args", [])]
