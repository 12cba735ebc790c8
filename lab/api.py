"""A minimal HTTPS client for the lab's own bookkeeping (seeding, load balancer, DNS runner).

The lab deliberately does not use the collection's client: it plays the cluster's owner
(kubeadm, the cloud controller, the kubelet), not the collection.
"""

from __future__ import annotations

import http.client
import json
import ssl
from pathlib import Path
from urllib.parse import urlencode, urlparse

# (apiVersion, kind) -> (path prefix, resource, namespaced)
RESOURCES = {
    ("v1", "Namespace"): ("/api/v1", "namespaces", False),
    ("v1", "Node"): ("/api/v1", "nodes", False),
    ("v1", "ConfigMap"): ("/api/v1", "configmaps", True),
    ("v1", "Secret"): ("/api/v1", "secrets", True),
    ("v1", "Service"): ("/api/v1", "services", True),
    ("v1", "ServiceAccount"): ("/api/v1", "serviceaccounts", True),
    ("apps/v1", "Deployment"): ("/apis/apps/v1", "deployments", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"):
        ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"):
        ("/apis/admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations", False),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"):
        ("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions", False),
    ("kwok.x-k8s.io/v1alpha1", "PortForward"): ("/apis/kwok.x-k8s.io/v1alpha1", "portforwards", True),
}


class ApiError(RuntimeError):
    def __init__(self, status: int, message: str):
        super().__init__(f"{status}: {message}")
        self.status = status


def path_for(api_version: str, kind: str, namespace: str | None = None, name: str | None = None) -> str:
    prefix, resource, namespaced = RESOURCES[(api_version, kind)]
    path = prefix + (f"/namespaces/{namespace}" if namespaced and namespace else "") + f"/{resource}"
    return path + (f"/{name}" if name else "")


class Api:
    def __init__(self, server: str, pki_dir: Path, identity: str = "agent", timeout: float = 10):
        url = urlparse(server)
        self.host, self.port = url.hostname, url.port
        self.context = ssl.create_default_context(cafile=str(pki_dir / "ca.crt"))
        self.context.load_cert_chain(str(pki_dir / f"{identity}.crt"), str(pki_dir / f"{identity}.key"))
        self.timeout = timeout
        self._conn: http.client.HTTPSConnection | None = None

    def _connection(self) -> http.client.HTTPSConnection:
        if self._conn is None:
            self._conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=self.timeout)
        return self._conn

    def request(self, method: str, path: str, body=None, query: dict | None = None,
                content_type: str = "application/json"):
        if query:
            path += "?" + urlencode(query)
        headers = {"Accept": "application/json", "User-Agent": "meshops-lab"}
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            headers["Content-Type"] = content_type
        for attempt in (1, 2):  # one retry on a connection the server closed
            try:
                conn = self._connection()
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
                break
            except (http.client.HTTPException, ConnectionError, OSError):
                self.close()
                if attempt == 2:
                    raise
        if resp.status == 404 and method == "GET":
            return None
        if resp.status >= 400:
            try:
                message = json.loads(payload).get("message", payload.decode())
            except ValueError:
                message = payload.decode(errors="replace")
            raise ApiError(resp.status, message)
        return json.loads(payload) if payload else None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def apply(self, obj: dict, manager: str) -> dict:
        meta = obj["metadata"]
        path = path_for(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        return self.request("PATCH", path, obj, {"fieldManager": manager, "force": "true"},
                            "application/apply-patch+yaml")

    def list(self, api_version: str, kind: str, namespace: str | None = None) -> list[dict]:
        return (self.request("GET", path_for(api_version, kind, namespace)) or {}).get("items", [])

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
        return self.request("GET", path_for(api_version, kind, namespace, name))

    def healthy(self) -> bool:
        try:
            conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=2)
            conn.request("GET", "/readyz")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except OSError:
            return False
