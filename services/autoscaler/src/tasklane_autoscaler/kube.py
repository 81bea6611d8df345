"""The few Kubernetes API calls the operator makes besides kopf's own: a Deployment's scale
subresource and its pods' deletion-cost annotations. Built on aiohttp (kopf's own HTTP client)
from the same credentials kopf logs in with, so one login serves both."""

from __future__ import annotations

import base64
import ssl
import tempfile
from collections.abc import Mapping
from typing import Any

import aiohttp
import kopf

MERGE_PATCH = "application/merge-patch+json"


class KubernetesApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status

    @property
    def retryable(self) -> bool:
        return self.status >= 500 or self.status in (409, 429)


def _ssl_context(info: kopf.ConnectionInfo) -> ssl.SSLContext | bool:
    if info.insecure:
        return False
    context = ssl.create_default_context()
    if info.ca_path:
        context.load_verify_locations(cafile=info.ca_path)
    elif info.ca_data:
        data = info.ca_data
        text = data.decode() if isinstance(data, bytes) else data
        if "BEGIN CERTIFICATE" not in text:
            text = base64.b64decode(text).decode()
        context.load_verify_locations(cadata=text)
    if info.certificate_path and info.private_key_path:
        context.load_cert_chain(info.certificate_path, info.private_key_path)
    elif info.certificate_data and info.private_key_data:
        # ssl only loads client certificates from files.
        with tempfile.NamedTemporaryFile("wb") as cert, tempfile.NamedTemporaryFile("wb") as key:
            cert.write(_pem(info.certificate_data))
            key.write(_pem(info.private_key_data))
            cert.flush()
            key.flush()
            context.load_cert_chain(cert.name, key.name)
    return context


def _pem(data: str | bytes) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    return raw if b"-----BEGIN" in raw else base64.b64decode(raw)


class KubernetesApi:
    def __init__(self, info: kopf.ConnectionInfo) -> None:
        self._base = info.server.rstrip("/")
        self._session = aiohttp.ClientSession(
            headers=info.as_http_headers(),
            connector=aiohttp.TCPConnector(ssl=_ssl_context(info)),
            timeout=aiohttp.ClientTimeout(total=10),
        )

    async def close(self) -> None:
        await self._session.close()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        headers = {"Content-Type": MERGE_PATCH} if method == "PATCH" else {}
        async with self._session.request(
            method, self._base + path, json=body, params=params, headers=headers
        ) as response:
            if response.status >= 400:
                raise KubernetesApiError(response.status, await response.text())
            result: dict[str, Any] = await response.json(content_type=None)
            return result

    @staticmethod
    def _deployment_path(namespace: str, name: str) -> str:
        return f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"

    async def get_deployment(self, namespace: str, name: str) -> dict[str, Any]:
        return await self._request("GET", self._deployment_path(namespace, name))

    async def get_scale(self, namespace: str, name: str) -> dict[str, Any]:
        return await self._request("GET", self._deployment_path(namespace, name) + "/scale")

    async def set_replicas(self, namespace: str, name: str, replicas: int) -> dict[str, Any]:
        path = self._deployment_path(namespace, name) + "/scale"
        return await self._request("PATCH", path, body={"spec": {"replicas": replicas}})

    async def list_pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """The pods matching `selector`. Served from the API server's watch cache
        (resourceVersion=0), not read from etcd: this runs every poll, and a view some
        milliseconds old is as good for counting pods."""
        path = f"/api/v1/namespaces/{namespace}/pods"
        params = {"labelSelector": selector, "resourceVersion": "0"}
        result = await self._request("GET", path, params=params)
        items: list[dict[str, Any]] = result.get("items", [])
        return items

    async def annotate_pod(self, namespace: str, name: str, annotations: Mapping[str, str]) -> None:
        path = f"/api/v1/namespaces/{namespace}/pods/{name}"
        await self._request("PATCH", path, body={"metadata": {"annotations": dict(annotations)}})


def selector_string(match_labels: Mapping[str, str]) -> str:
    """A Deployment's `spec.selector.matchLabels` as a label selector query."""
    return ",".join(f"{key}={value}" for key, value in sorted(match_labels.items()))
