# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A kubeconfig that holds one bearer token for one cluster (a ServiceAccount's), and whether the
token of an existing one may be kept. Pure functions: no cluster access, no Ansible. The token is a
secret: nothing here puts it (or a part of it) into a message."""

from __future__ import annotations

import base64
import datetime
import json


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
    server of `connection` (k8s.KubeClient's), its CA (`ca_pem`, else the connection's CA data) and
    `token`."""
    cluster = {"server": connection.server}
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
