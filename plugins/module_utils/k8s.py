# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small Kubernetes client for the collection's modules.

Only the handful of kinds the collection manages, addressed by their REST paths: no API
discovery, one connection pool per module run, server-side apply for every write. Objects the
collection creates carry MANAGED_BY_LABEL; writes and deletes refuse objects without it.
"""

from __future__ import annotations

import json
import os

try:
    from urllib.parse import urlencode
except ImportError:  # Python 2 is not supported; keeps sanity's import test quiet
    from urllib import urlencode

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.config.config_exception import ConfigException
    import urllib3  # comes with kubernetes
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as exc:  # reported by the module through missing_required_lib
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc


MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "meshops.multicluster"
FIELD_MANAGER = "meshops.multicluster"
USER_AGENT = "meshops.multicluster"

# kind -> (API prefix, resource, namespaced)
KINDS = {
    "Namespace": ("api/v1", "namespaces", False),
    "Secret": ("api/v1", "secrets", True),
    "ConfigMap": ("api/v1", "configmaps", True),
    "Service": ("api/v1", "services", True),
    "ServiceAccount": ("api/v1", "serviceaccounts", True),
    "Node": ("api/v1", "nodes", False),
    "Deployment": ("apis/apps/v1", "deployments", True),
    "Lease": ("apis/coordination.k8s.io/v1", "leases", True),
    "ServiceEntry": ("apis/networking.istio.io/v1", "serviceentries", True),
    "Gateway": ("apis/networking.istio.io/v1", "gateways", True),
    "DestinationRule": ("apis/networking.istio.io/v1", "destinationrules", True),
}
API_VERSIONS = {kind: prefix.split("/", 1)[1] for kind, (prefix, _resource, _namespaced) in KINDS.items()}

# Each option of kubernetes.core's auth with its environment fallback (AWX credentials).
AUTH_ENV = {
    "kubeconfig": "K8S_AUTH_KUBECONFIG",
    "context": "K8S_AUTH_CONTEXT",
    "host": "K8S_AUTH_HOST",
    "api_key": "K8S_AUTH_API_KEY",
    "validate_certs": "K8S_AUTH_VERIFY_SSL",
    "ca_cert": "K8S_AUTH_SSL_CA_CERT",
    "client_cert": "K8S_AUTH_CERT_FILE",
    "client_key": "K8S_AUTH_KEY_FILE",
}


class KubeError(Exception):
    """An API or connection failure, with the HTTP status when there was one."""

    def __init__(self, message, status=None, reason=None):
        super().__init__(message)
        self.status = status
        self.reason = reason


def managed_labels(extra=None):
    labels = {MANAGED_BY_LABEL: MANAGED_BY}
    labels.update(extra or {})
    return labels


def is_ours(obj):
    return ((obj.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY


def subset_matches(desired, live):
    """True when every field of desired has the same value in live (the server may add defaults)."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(k in live and subset_matches(v, live[k]) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(live, list) and len(desired) == len(live) and all(
            subset_matches(d, v) for d, v in zip(desired, live))
    return desired == live


def _env_bool(value):
    if value is None or isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def auth_params(params):
    """Module params with each unset auth option taken from its K8S_AUTH_* variable."""
    resolved = {}
    for option, env in AUTH_ENV.items():
        value = params.get(option)
        if value is None:
            value = os.environ.get(env) or None
        resolved[option] = value
    resolved["validate_certs"] = _env_bool(resolved["validate_certs"])
    return resolved


def _configuration(params):
    auth = auth_params(params)
    cfg = k8s_client.Configuration()
    if auth["host"]:
        cfg.host = auth["host"]
        if auth["api_key"]:
            cfg.api_key = {"authorization": "Bearer " + auth["api_key"]}
    else:
        kubeconfig = auth["kubeconfig"] or os.path.expanduser("~/.kube/config")
        try:
            k8s_config.load_kube_config(config_file=kubeconfig, context=auth["context"],
                                        client_configuration=cfg, persist_config=False)
        except (ConfigException, OSError) as exc:
            raise KubeError("cannot load kubeconfig %s (context %s): %s" % (kubeconfig, auth["context"] or "current", exc))
        if auth["api_key"]:
            cfg.api_key = {"authorization": "Bearer " + auth["api_key"]}
    if auth["ca_cert"]:
        cfg.ssl_ca_cert = auth["ca_cert"]
    if auth["client_cert"]:
        cfg.cert_file = auth["client_cert"]
    if auth["client_key"]:
        cfg.key_file = auth["client_key"]
    if auth["validate_certs"] is not None:
        cfg.verify_ssl = auth["validate_certs"]
    # A stopped API server should fail the cluster at once, not after urllib3's default retries.
    cfg.retries = 1
    return cfg


def resource_path(kind, namespace=None, name=None):
    try:
        prefix, resource, namespaced = KINDS[kind]
    except KeyError:
        raise KubeError("kind %s is not one the collection manages" % kind)
    path = "/" + prefix
    if namespaced and namespace:
        path += "/namespaces/" + namespace
    path += "/" + resource
    if name:
        path += "/" + name
    return path


class KubeClient:
    """REST calls for the kinds in KINDS; counts requests so modules can report them."""

    def __init__(self, params, timeout=30):
        if not HAS_KUBERNETES:
            raise KubeError("the Python library 'kubernetes' is required: %s" % KUBERNETES_IMPORT_ERROR)
        self.configuration = _configuration(params)
        # The client library's connection pool (certificates, proxy), driven directly: the
        # generated API layer's call signature changes between library versions.
        self.pool = k8s_client.ApiClient(self.configuration).rest_client.pool_manager
        self.timeout = timeout
        self.requests = {"read": 0, "write": 0}

    @property
    def host(self):
        return self.configuration.host

    def request(self, method, path, query=None, body=None, content_type="application/json"):
        """JSON response of one call; None for 404 on GET and DELETE."""
        self.requests["read" if method == "GET" else "write"] += 1
        url = self.host.rstrip("/") + path + ("?" + urlencode(query) if query else "")
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        # Bearer tokens (static, or refreshed by a kubeconfig exec/OIDC plugin) come from here.
        for auth in self.configuration.auth_settings().values():
            if auth.get("in") == "header" and auth.get("value"):
                headers[auth["key"]] = auth["value"]
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            response = self.pool.request(method, url, body=body, headers=headers, timeout=self.timeout,
                                         retries=urllib3.Retry(total=2, connect=2, read=0, redirect=0, status=0))
        except urllib3.exceptions.HTTPError as exc:  # connection refused, TLS, timeouts
            raise KubeError("cannot reach the Kubernetes API at %s: %s" % (self.host, _short(exc)))
        if response.status == 404 and method in ("GET", "DELETE"):
            return None
        if response.status >= 400:
            raise KubeError(_status_message(method, path, response), status=response.status, reason=response.reason)
        return json.loads(response.data) if response.data else None

    def get(self, kind, name, namespace=None):
        return self.request("GET", resource_path(kind, namespace, name))

    def list(self, kind, namespace=None, label_selector=None):
        query = {"labelSelector": label_selector} if label_selector else None
        result = self.request("GET", resource_path(kind, namespace), query=query)
        return (result or {}).get("items") or []

    def apply(self, obj, dry_run=False):
        """Server-side apply of one whole object with the collection's field manager."""
        meta = obj["metadata"]
        query = {"fieldManager": FIELD_MANAGER, "force": "true"}
        if dry_run:
            query["dryRun"] = "All"
        return self.request("PATCH", resource_path(obj["kind"], meta.get("namespace"), meta["name"]),
                            query=query, body=json.dumps(obj), content_type="application/apply-patch+yaml")

    def delete(self, kind, name, namespace=None):
        return self.request("DELETE", resource_path(kind, namespace, name), query={"propagationPolicy": "Background"})


def _short(exc):
    reason = getattr(exc, "reason", None)
    return str(reason or exc)


def _status_message(method, path, response):
    detail = response.reason
    try:
        detail = json.loads(response.data).get("message") or detail
    except (TypeError, ValueError, AttributeError):
        pass
    return "%s %s: %s %s" % (method, path, response.status, detail)
