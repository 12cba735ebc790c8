# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A kubeconfig that holds one bearer token for one cluster (a ServiceAccount's), whether the
token of an existing one may be kept, and keeping such a file (the backend of
mesh_service_account_kubeconfig: a new token from a TokenRequest only when the file cannot be kept).
The token is a secret: nothing here puts it (or a part of it) into a message."""

from __future__ import annotations

import base64
import datetime
import json
import os

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.files import read_file, write_atomic
from ansible_collections.meshops.multicluster.plugins.module_utils._access.permissions import worded
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KubeError, resource_request

try:
    import yaml
except ImportError:  # the module reports it (k8s_client, missing_required_lib) before anything here runs
    yaml = None


def token_claims(token):
    """The claims of a JWT, read without verifying its signature (the API server, not this, decides
    whether the token is valid); None when it is not a JWT."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def token_expiry(token):
    """Expiry of a JWT (its exp claim), or None when it has none or is not a JWT."""
    try:
        return datetime.datetime.fromtimestamp(int((token_claims(token) or {})["exp"]), datetime.timezone.utc)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


def token_service_account(claims):
    """(namespace, name, uid) of the ServiceAccount a bound token was issued for, from its
    kubernetes.io claims (uid None when only the sub claim names it); None for other tokens."""
    claims = claims or {}
    scope = claims.get("kubernetes.io")
    if isinstance(scope, dict) and isinstance(scope.get("serviceaccount"), dict):
        account = scope["serviceaccount"]
        return scope.get("namespace"), account.get("name"), account.get("uid")
    parts = str(claims.get("sub") or "").split(":")
    if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
        return parts[2], parts[3], None
    return None


def _named(config, section, name):
    entries = config.get(section) if isinstance(config, dict) else None
    return next((entry.get(section[:-1]) or {} for entry in entries or []
                 if isinstance(entry, dict) and entry.get("name") == name), None)


def reuse_verdict(config, desired, service_account, now, renew_before):
    """(token expiry, None) when the token of the existing kubeconfig `config` may be kept, else
    (None, why not). `desired` is the kubeconfig this module would write (token_kubeconfig): the
    context must point at the same cluster entry (server, CA data, TLS settings); the token must be
    a ServiceAccount token of `service_account` ((namespace, name, uid) of the live object: a
    ServiceAccount deleted and re-created has a new uid) and stay valid for more than `renew_before`."""
    context_name = desired["current-context"]
    context = _named(config, "contexts", context_name)
    if context is None:
        return None, "no kubeconfig with the context %s" % context_name
    if _named(config, "clusters", context.get("cluster")) != desired["clusters"][0]["cluster"]:
        return None, "the cluster (server, CA or TLS settings) changed"
    token = (_named(config, "users", context.get("user")) or {}).get("token")
    if not service_account[2] or token_service_account(token_claims(token)) != tuple(service_account):
        return None, "the token is not one of the ServiceAccount %s/%s (uid %s)" % tuple(service_account)
    expiry = token_expiry(token)
    if expiry is None or expiry - now <= renew_before:
        return None, "the token expires within the renewal time"
    return expiry, None


def token_kubeconfig(connection, context_name, token, ca_pem=None):
    """A kubeconfig with one context `context_name` (its cluster and user named the same) for the
    server of `connection` (client.KubeClient's), its CA (`ca_pem`, else the connection's CA data) and
    `token`. The account reaches the server the way this run did: through its proxy, if any."""
    cluster = {"server": connection.server}
    if connection.proxy_url:
        cluster["proxy-url"] = connection.proxy_url
    ca = ca_pem or connection.ca_data
    if ca:
        cluster["certificate-authority-data"] = base64.b64encode(ca.encode() if isinstance(ca, str) else ca).decode()
    if connection.tls_server_name:
        cluster["tls-server-name"] = connection.tls_server_name
    if not connection.verify:
        cluster["insecure-skip-tls-verify"] = True
    return {"apiVersion": "v1", "kind": "Config", "current-context": context_name,
            "clusters": [{"name": context_name, "cluster": cluster}],
            "users": [{"name": context_name, "user": {"token": token}}],
            "contexts": [{"name": context_name, "context": {"cluster": context_name, "user": context_name}}]}


def request_token(client, namespace, name, seconds):
    """A new token of the ServiceAccount namespace/name (a TokenRequest), valid for `seconds` or
    less, as the API server decides. Raises KubeError."""
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": seconds}}
    account = resource_request("POST", "ServiceAccount", namespace, name)  # a 403 is worded as the account's
    response = client.request("POST", account.path + "/token", body=json.dumps(body), target=account)
    return response["status"]["token"]


def _read_kubeconfig(path):
    """The kubeconfig at `path` as YAML, None when there is none or it is not YAML."""
    try:
        return yaml.safe_load(read_file(path) or b"")
    except yaml.YAMLError:
        return None


def _read_ca(connection):
    """The CA file's PEM when the connection names a file rather than carrying the data."""
    if connection.ca_data or not connection.ca_file:
        return None
    return read_file(connection.ca_file)


class AccountKubeconfig:
    """The kubeconfig file `path` of the ServiceAccount namespace/name, its one context named
    context_name, holding a token asked for duration_hours and renewed when it expires within
    renew_before_hours. Raises MeshError (with the user in its partial result) for a lifetime that
    would renew the token at every run."""

    def __init__(self, namespace, name, path, context_name, duration_hours=720, renew_before_hours=168):
        self.namespace, self.name, self.path, self.context_name = namespace, name, path, context_name
        self.duration_hours, self.renew_before_hours = duration_hours, renew_before_hours
        self.user = "system:serviceaccount:%s:%s" % (namespace, name)
        if duration_hours <= renew_before_hours:
            raise MeshError("duration_hours=%d must exceed renew_before_hours=%d, or every run writes a new token"
                            % (duration_hours, renew_before_hours), partial={"user": self.user})

    def _read_account(self, client):
        try:
            return client.get("ServiceAccount", self.name, self.namespace)
        except KubeError as exc:
            raise MeshError("cannot read the ServiceAccount %s/%s: %s" % (self.namespace, self.name, exc),
                            partial={"user": self.user})

    def _verdict(self, account, desired, now):
        """(expiry, None) when the file may be kept for the live ServiceAccount `account`, else (None, why not)."""
        if account is None:
            return None, "the ServiceAccount %s/%s does not exist (yet)" % (self.namespace, self.name)
        identity = (self.namespace, self.name, account.get("metadata", {}).get("uid"))
        return reuse_verdict(_read_kubeconfig(self.path), desired, identity, now,
                             datetime.timedelta(hours=self.renew_before_hours))

    def keep(self, client, hide=None, now=None):
        """Keep the file, or write it with a new token (a check-mode client: only say so). hide(token) is
        called with a new token before anything else is done with it (the module masks it in its
        output). Returns the module's result (changed, expires, user, reason). Raises MeshError."""
        account = self._read_account(client)
        ca = _read_ca(client.connection)
        desired = token_kubeconfig(client.connection, self.context_name, None, ca)
        expiry, reason = self._verdict(account, desired, now or datetime.datetime.now(datetime.timezone.utc))
        if expiry:
            return dict(changed=False, expires=expiry.isoformat(), user=self.user, reason=None)
        if client.check_mode:  # no token would come back from a request not sent, and no file is written
            return dict(changed=True, user=self.user, reason=reason)
        try:
            token = request_token(client, self.namespace, self.name, self.duration_hours * 3600)
        except KubeError as exc:
            raise MeshError("cannot get a token for %s: %s" % (self.user, worded(exc)), partial={"user": self.user, "reason": reason})
        (hide or (lambda secret: None))(token)
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), mode=0o700, exist_ok=True)
        write_atomic(self.path, yaml.safe_dump(token_kubeconfig(client.connection, self.context_name, token, ca)), mode=0o600)
        expiry = token_expiry(token)
        return dict(changed=True, expires=expiry.isoformat() if expiry else None, user=self.user, reason=reason)
