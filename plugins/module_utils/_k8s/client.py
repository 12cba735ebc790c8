# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small Kubernetes client for the collection's modules.

Only the handful of kinds the collection manages, addressed by their REST paths (API discovery
only to prove a namespace empty), one connection pool per module run, server-side apply for every
write. Objects the collection creates carry mesh_names.MANAGED_BY_LABEL (managed_labels); writes and
deletes refuse objects without it.

Check mode is decided here, in one place (KubeClient.request): a client made with check_mode=True
sends every read and records every write in `recorded` instead of sending it. Backends run the same
code in both modes; the one rule for what is not a write to the API: what only follows from a write
that was not made (waiting for its effect) asks `client.check_mode`. A module without a cluster
(ca_root) hands its check mode to the one object that writes its local files (RootStore.save).

A 403 raises Forbidden, which carries the request; the module layer words it (_common/module.py).
"""

from __future__ import annotations

import copy
import json
import os
from collections import namedtuple

try:
    from urllib.parse import urlencode
except ImportError:  # Python 2 is not supported; keeps sanity's import test quiet
    from urllib import urlencode

import ssl
import tempfile
import threading
import time

try:
    import urllib3
    HAS_URLLIB3 = True
    URLLIB3_IMPORT_ERROR = None
except ImportError as exc:  # reported by the module through missing_required_lib
    HAS_URLLIB3 = False
    URLLIB3_IMPORT_ERROR = exc

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.kubeconfig import (
    KubeconfigError, resolve, without_credentials)
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import MANAGED_BY


# The collection names itself the same way as the manager of its fields and as the agent of its requests.
FIELD_MANAGER = USER_AGENT = MANAGED_BY

# kind -> (API prefix, resource, namespaced)
KINDS = {
    "Namespace": ("api/v1", "namespaces", False),
    "Secret": ("api/v1", "secrets", True),
    "ConfigMap": ("api/v1", "configmaps", True),
    "Service": ("api/v1", "services", True),
    "ServiceAccount": ("api/v1", "serviceaccounts", True),
    "Node": ("api/v1", "nodes", False),
    "Pod": ("api/v1", "pods", True),
    "Deployment": ("apis/apps/v1", "deployments", True),
    "EndpointSlice": ("apis/discovery.k8s.io/v1", "endpointslices", True),
    "ServiceEntry": ("apis/networking.istio.io/v1", "serviceentries", True),
    "Gateway": ("apis/networking.istio.io/v1", "gateways", True),
    "DestinationRule": ("apis/networking.istio.io/v1", "destinationrules", True),
    "ClusterRole": ("apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": ("apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "Role": ("apis/rbac.authorization.k8s.io/v1", "roles", True),
    "RoleBinding": ("apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    "MutatingWebhookConfiguration": ("apis/admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations", False),
    "ValidatingWebhookConfiguration": ("apis/admissionregistration.k8s.io/v1", "validatingwebhookconfigurations", False),
    "ValidatingAdmissionPolicy": ("apis/admissionregistration.k8s.io/v1", "validatingadmissionpolicies", False),
    "ValidatingAdmissionPolicyBinding": ("apis/admissionregistration.k8s.io/v1", "validatingadmissionpolicybindings",
                                         False),
}
REVIEW_PREFIXES = ("/apis/authorization.k8s.io/", "/apis/authentication.k8s.io/")
MERGE_PATCH = "application/merge-patch+json"
API_VERSIONS = {kind: prefix.split("/", 1)[1] for kind, (prefix, _resource, _namespaced) in KINDS.items()}

# Each option of kubernetes.core's auth with its environment fallback (AWX credentials).
AUTH_ENV = {
    "kubeconfig": "K8S_AUTH_KUBECONFIG",
    "context": "K8S_AUTH_CONTEXT",
    "host": "K8S_AUTH_HOST",
    "api_key": "K8S_AUTH_API_KEY",
    "username": "K8S_AUTH_USERNAME",
    "password": "K8S_AUTH_PASSWORD",
    "validate_certs": "K8S_AUTH_VERIFY_SSL",
    "ca_cert": "K8S_AUTH_SSL_CA_CERT",
    "client_cert": "K8S_AUTH_CERT_FILE",
    "client_key": "K8S_AUTH_KEY_FILE",
    "proxy": "K8S_AUTH_PROXY",
    "no_proxy": "K8S_AUTH_NO_PROXY",
    "persist_config": "K8S_AUTH_PERSIST_CONFIG",
    "impersonate_user": "K8S_AUTH_IMPERSONATE_USER",
    "impersonate_groups": "K8S_AUTH_IMPERSONATE_GROUPS",
}
# The suboptions of proxy_headers, each with its K8S_AUTH_PROXY_HEADERS_* variable.
PROXY_HEADERS_ENV = {
    "proxy_basic_auth": "K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH",
    "basic_auth": "K8S_AUTH_PROXY_HEADERS_BASIC_AUTH",
    "user_agent": "K8S_AUTH_PROXY_HEADERS_USER_AGENT",
}
BOOLEAN_OPTIONS = ("validate_certs", "persist_config")


# One request: method and path, and the object it addresses when resource_path built the path
# (kind None for discovery, reviews and raw paths).
Request = namedtuple("Request", "method path kind namespace name")
# A write a check-mode client did not send: the request and the object it would have sent.
Write = namedtuple("Write", "request body")


class KubeError(MeshError):
    """An API or connection failure, with the HTTP status when there was one."""

    def __init__(self, message, status=None, reason=None):
        super().__init__(message)
        self.status = status
        self.reason = reason


class Forbidden(KubeError):
    """403: the identity may not make `request`; server_message is the API server's reason. The
    module layer words it with the permissions table (permissions.worded)."""

    def __init__(self, request, server_message, reason=None):
        super().__init__("%s %s: 403 %s" % (request.method, request.path, server_message), status=403, reason=reason)
        self.request = request
        self.server_message = server_message


def subset_matches(desired, live):
    """True when every field of desired has the same value in live (the server may add defaults)."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(k in live and subset_matches(v, live[k]) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(live, list) and len(desired) == len(live) and all(
            subset_matches(d, v) for d, v in zip(desired, live))
    return desired == live


# K8S_AUTH_VERIFY_SSL as kubernetes.core reads it ("0", "false", "no", any case, turn verification
# off), with the words it reads as on. kubernetes.core reads every other value as on; an unknown
# value is refused here instead of guessed.
ENV_BOOLEANS = {"0": False, "false": False, "no": False, "1": True, "true": True, "yes": True}


def _env_bool(env, value):
    try:
        return ENV_BOOLEANS[value.lower()]
    except KeyError:
        raise KubeError("%s=%r is not a boolean: expected true or false (also yes/no, 1/0)" % (env, value))


def _env_value(option, env):
    """An auth option's K8S_AUTH_* variable read as kubernetes.core reads it (booleans strictly, see
    ENV_BOOLEANS; impersonate_groups as a comma separated list), None when unset or empty."""
    value = os.environ.get(env) or None
    if value is None:
        return None
    if option in BOOLEAN_OPTIONS:
        return _env_bool(env, value)
    if option == "impersonate_groups":
        return [group for group in value.split(",") if group] or None
    return value


def _proxy_headers(given):
    """proxy_headers with each unset suboption taken from its K8S_AUTH_PROXY_HEADERS_* variable."""
    given = given or {}
    return {name: given.get(name) if given.get(name) is not None else os.environ.get(env) or None
            for name, env in PROXY_HEADERS_ENV.items()}


def auth_params(params):
    """Module params with each unset auth option taken from its K8S_AUTH_* variable; KubeError for a
    validate_certs or persist_config that is not a boolean."""
    resolved = {}
    for option, env in AUTH_ENV.items():
        value = params.get(option)
        resolved[option] = _env_value(option, env) if value is None else value
    resolved["proxy_headers"] = _proxy_headers(params.get("proxy_headers"))
    for option in BOOLEAN_OPTIONS:
        if resolved[option] is not None and not isinstance(resolved[option], bool):
            raise KubeError("%s=%r is not a boolean: expected true or false" % (option, resolved[option]))
    return resolved


def _ssl_context(conn):
    """TLS settings of a connection; client certificates given as data pass through a private
    temporary directory only while they are loaded."""
    context = ssl.create_default_context(cafile=conn.ca_file, cadata=conn.ca_data)
    if not conn.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if conn.cert_data or conn.cert_file:
        with tempfile.TemporaryDirectory(prefix="meshops-") as private:
            cert_file, key_file = conn.cert_file, conn.key_file
            if conn.cert_data:
                cert_file = os.path.join(private, "cert.pem")
                with open(cert_file, "w") as f:
                    f.write(conn.cert_data)
            if conn.key_data:
                key_file = os.path.join(private, "key.pem")
                with open(os.open(key_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                    f.write(conn.key_data)
            context.load_cert_chain(cert_file, key_file)
    return context


def _pool(conn):
    """The connection pool (MAX_CONNECTIONS kept open per host, reused): through conn.proxy_url when there is one (HTTPS tunnels through CONNECT,
    which carries the proxy headers), straight to the API server otherwise."""
    options = dict(ssl_context=_ssl_context(conn), cert_reqs="CERT_REQUIRED" if conn.verify else "CERT_NONE",
                   server_hostname=conn.tls_server_name, maxsize=MAX_CONNECTIONS)
    if not conn.verify:
        options["assert_hostname"] = False
    if conn.proxy_url:
        try:
            return urllib3.ProxyManager(conn.proxy_url, proxy_headers=urllib3.util.make_headers(**conn.proxy_headers),
                                        **options)
        except (ValueError, urllib3.exceptions.HTTPError):  # not a URL, or a scheme urllib3 has no proxy for
            raise KubeError("proxy %s is not an HTTP(S) proxy URL: expected http://host:port or https://host:port"
                            % without_credentials(conn.proxy_url))
    return urllib3.PoolManager(**options)


def request_headers(conn):
    """The headers of every request: authentication (bearer token, else basic) and impersonation,
    one Impersonate-Group header per group as the API server reads them."""
    headers = urllib3.HTTPHeaderDict({"Accept": "application/json", "User-Agent": USER_AGENT})
    if conn.token:
        headers["Authorization"] = "Bearer " + conn.token
    elif conn.username:
        headers.update(urllib3.util.make_headers(basic_auth="%s:%s" % (conn.username, conn.password)))
    if conn.impersonate_user:
        headers["Impersonate-User"] = conn.impersonate_user
    for group in conn.impersonate_groups:
        headers.add("Impersonate-Group", group)
    return headers


# A refused connection is retried twice (urllib3). The API server's answers that ask to come back
# are retried here, as client-go does: 429 (API Priority and Fairness rejected the request, the
# server is overloaded, or the storage of CRDs just created still initialising) and 503/504 (a
# server shutting down or timing out), after their Retry-After (at most RETRY_AFTER_MAX seconds),
# else after an exponential backoff, at most STATUS_RETRIES times. A 429 request was not processed;
# a 503/504 one may have been, and every write of the collection is safe to send again (apply and
# delete are idempotent, a conditional replace or a create answers 409).
RETRIES = urllib3.Retry(total=None, connect=2, read=0, redirect=0, status=0, other=0,
                        allowed_methods=None, backoff_factor=0.25, raise_on_status=False) if HAS_URLLIB3 else None
RETRY_STATUSES = (429, 503, 504)
STATUS_RETRIES = 6
RETRY_AFTER_MAX = 30.0
# Connections kept open per API server: as many as requests may be in flight at once
# (reconcile.execute's max_in_flight at most this), each reused from one request to the next.
MAX_CONNECTIONS = 32


def retry_delay(status, retry_after, attempt):
    """Seconds to wait before sending again a request answered `status` (its Retry-After header,
    or None) on its attempt-th answer (from 1), or None when it is not retried."""
    if status not in RETRY_STATUSES or attempt > STATUS_RETRIES:
        return None
    try:
        seconds = float(retry_after)
    except (TypeError, ValueError):
        seconds = 0.25 * 2 ** (attempt - 1)
    return min(max(seconds, 0.0), RETRY_AFTER_MAX)


def with_retries(send, sleep):
    """send() -> response (with .status and .headers), sent again while retry_delay says so, after
    sleep(seconds); the last response."""
    attempt = 0
    while True:
        response = send()
        attempt += 1
        delay = retry_delay(response.status, (getattr(response, "headers", None) or {}).get("Retry-After"), attempt)
        if delay is None:
            return response
        sleep(delay)


def _kind(kind):
    try:
        return KINDS[kind]
    except KeyError:
        raise KubeError("kind %s is not one the collection manages" % kind)


def api_resource(kind):
    """(API group, resource) of a kind of KINDS: ("networking.istio.io", "serviceentries"), ("", "secrets")."""
    prefix, resource, _namespaced = _kind(kind)
    return ("" if prefix == "api/v1" else prefix.split("/")[1]), resource


def resource_path(kind, namespace=None, name=None):
    prefix, resource, namespaced = _kind(kind)
    path = "/" + prefix
    if namespaced and namespace:
        path += "/namespaces/" + namespace
    path += "/" + resource
    if name:
        path += "/" + name
    return path


def resource_request(method, kind, namespace=None, name=None):
    """The Request of `method` on an object (or, without name, the collection) of a kind of KINDS."""
    namespace = namespace if _kind(kind)[2] else None  # a cluster-wide kind has no namespace in its path
    return Request(method, resource_path(kind, namespace, name), kind, namespace, name)


def is_write(method, path):
    """Whether a request changes anything. An access review is a POST but changes nothing."""
    return method != "GET" and not path.startswith(REVIEW_PREFIXES)


class KubeClient:
    """REST calls for the kinds in KINDS; counts requests so modules can report them.

    With check_mode, writes (apply, create, replace, merge_patch, delete, any non-GET request but an
    access review) are not sent: each is appended to `recorded` (a Write) and answered by _record().
    Only sent requests are counted in `requests`. Recording instead of the API's dryRun=All: a
    dry-run request is still a write request in the API server's audit log (and check mode makes
    none), and it fails where an earlier write of the same run would have made its way (the object's
    namespace)."""

    def __init__(self, params, timeout=30, check_mode=False):
        try:
            self.connection = resolve(auth_params(params))
        except KubeconfigError as exc:
            raise KubeError(str(exc))
        try:
            self.pool = _pool(self.connection)
        except (ssl.SSLError, OSError) as exc:  # unreadable or mismatched CA, certificate or key files
            raise KubeError("cannot set up TLS for %s: %s" % (self.connection.server, exc))
        self.host = self.connection.server
        self.headers = request_headers(self.connection)
        self.timeout = timeout
        self.requests = {"read": 0, "write": 0}
        self._count_lock = threading.Lock()
        self.check_mode = check_mode
        self.recorded = []

    def request(self, method, path, query=None, body=None, content_type="application/json", target=None):
        """JSON response of one call; None for 404 on GET and DELETE. target: the Request of
        resource_request() when the path addresses an object of KINDS (named in a Forbidden)."""
        target = target or Request(method, path, None, None, None)
        # A server-side dry run (dryRun=All) persists nothing: it is sent in check mode too, and
        # counted as a read.
        write = is_write(method, path) and (query or {}).get("dryRun") != "All"
        if write and self.check_mode:
            return self._record(target, body, content_type)
        self.count("write" if write else "read")
        url = self.host.rstrip("/") + path + ("?" + urlencode(query) if query else "")
        headers = self.headers.copy()
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            response = with_retries(lambda: self.pool.request(method, url, body=body, headers=headers,
                                                              timeout=self.timeout, retries=RETRIES), time.sleep)
        except urllib3.exceptions.HTTPError as exc:  # connection refused, TLS, timeouts
            raise KubeError("cannot reach the Kubernetes API at %s%s: %s" % (self.host, self._through(), _short(exc)))
        if response.status == 404 and method in ("GET", "DELETE"):
            return None
        if response.status == 403:
            raise Forbidden(target, _server_message(response), reason=response.reason)
        if response.status >= 400:
            raise KubeError("%s %s: %s %s" % (method, path, response.status, _server_message(response)),
                            status=response.status, reason=response.reason)
        return json.loads(response.data) if response.data else None

    def count(self, kind):
        """Count one request sent, kind "read" or "write" (also those sent beside request(): a port-forward)."""
        with self._count_lock:  # requests run in parallel threads (reconcile.execute)
            self.requests[kind] += 1

    def _through(self):
        """ through the proxy (named without its credentials), for messages."""
        proxy = self.connection.proxy_url
        return " through the proxy %s" % without_credentials(proxy) if proxy else ""

    def _record(self, target, body, content_type):
        """Record a write instead of sending it. It answers the object it would have sent (apply,
        create, replace; without what the server adds: uid, resourceVersion, defaults, status), or
        None for a merge patch (a part of an object) and a delete."""
        sent = None if body is None else json.loads(body)
        self.recorded.append(Write(target, sent))
        return None if content_type == MERGE_PATCH else copy.deepcopy(sent)

    def _call(self, method, kind, namespace=None, name=None, **kwargs):
        """request() of an object (or the collection, without name) of a kind of KINDS."""
        target = resource_request(method, kind, namespace, name)
        return self.request(method, target.path, target=target, **kwargs)

    def get(self, kind, name, namespace=None):
        return self._call("GET", kind, namespace, name)

    def list(self, kind, namespace=None, label_selector=None):
        query = {"labelSelector": label_selector} if label_selector else None
        result = self._call("GET", kind, namespace, query=query)
        return (result or {}).get("items") or []

    def apply(self, obj):
        """Server-side apply of one whole object with the collection's field manager."""
        meta = obj["metadata"]
        return self._call("PATCH", obj["kind"], meta.get("namespace"), meta["name"],
                          query={"fieldManager": FIELD_MANAGER, "force": "true"}, body=json.dumps(obj),
                          content_type="application/apply-patch+yaml")

    def create(self, obj, dry_run=False):
        """Create an object; 409 (KubeError) when one of that name exists. dry_run: the API server
        runs its admission (webhooks included) and answers the object it would have stored, storing
        nothing (dryRun=All); sent in check mode too, since it writes nothing."""
        meta = obj["metadata"]
        query = {"fieldManager": FIELD_MANAGER}
        if dry_run:
            query["dryRun"] = "All"
        return self._call("POST", obj["kind"], meta.get("namespace"), query=query, body=json.dumps(obj))

    def replace(self, obj):
        """Replace an object whole. With metadata.resourceVersion set this is conditional: 409
        (KubeError) when someone changed the object since that version was read."""
        meta = obj["metadata"]
        return self._call("PUT", obj["kind"], meta.get("namespace"), meta["name"], query={"fieldManager": FIELD_MANAGER},
                          body=json.dumps(obj))

    def merge_patch(self, kind, name, namespace, patch):
        """JSON merge patch (RFC 7386): set the given fields, None removes one."""
        return self._call("PATCH", kind, namespace, name, query={"fieldManager": FIELD_MANAGER},
                          body=json.dumps(patch), content_type=MERGE_PATCH)

    def review_rules(self, namespace):
        """What this identity may do in a namespace (and cluster-wide): a SelfSubjectRulesReview's
        resourceRules. Asks; changes nothing."""
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {"namespace": namespace}}
        result = self.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", body=json.dumps(review))
        return ((result or {}).get("status") or {}).get("resourceRules") or []

    def whoami(self):
        """The user name the API server sees (SelfSubjectReview)."""
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        result = self.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", body=json.dumps(review))
        return (((result or {}).get("status") or {}).get("userInfo") or {}).get("username") or "unknown"

    def namespaced_resources(self):
        """Every namespaced resource the API server serves and can list, in the preferred version of
        its group (discovery of /api/v1 and of each group of /apis): ([{"path": "apis/<group>/<version>",
        "group", "resource", "kind"}], ["<group>/<version>: why it could not be read"]). Reads only."""
        groups = (self.request("GET", "/apis") or {}).get("groups") or []
        paths = [("", "api/v1")] + [(group["name"], "apis/" + group["preferredVersion"]["groupVersion"])
                                    for group in groups if group.get("preferredVersion")]
        found, failed = [], []
        for group, path in paths:
            try:  # an aggregated API whose server is down answers 503
                listing = self.request("GET", "/" + path) or {}
            except KubeError as exc:
                failed.append("%s: %s" % (path.split("/", 1)[1], exc))
                continue
            found += [{"path": path, "group": group, "resource": res["name"], "kind": res["kind"]}
                      for res in listing.get("resources") or []
                      if res.get("namespaced") and "/" not in res["name"] and "list" in (res.get("verbs") or [])]
        return found, failed

    def delete(self, kind, name, namespace=None):
        return self._call("DELETE", kind, namespace, name, query={"propagationPolicy": "Background"})


def _short(exc):
    reason = getattr(exc, "reason", None)
    return str(reason or exc)


def _server_message(response):
    try:
        return json.loads(response.data).get("message") or response.reason
    except (TypeError, ValueError, AttributeError):
        return response.reason
