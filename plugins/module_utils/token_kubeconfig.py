# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A kubeconfig that holds one bearer token for one cluster (a ServiceAccount's), and when that
token expires. Pure functions: no cluster access, no Ansible."""

from __future__ import annotations

import base64
import datetime
import json


def token_expiry(token):
    """Expiry of a JWT (its exp claim), or None when it has none or is not a JWT. Reads the claim
    only: the API server, not this, decides whether the token is valid."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.datetime.fromtimestamp(int(claims["exp"]), datetime.timezone.utc)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return None


def context_token(config, context_name, server):
    """The token of a kubeconfig's context when that context points at `server`, else None."""
    config = config or {}
    clusters = {c.get("name"): c.get("cluster") or {} for c in config.get("clusters") or []}
    users = {u.get("name"): u.get("user") or {} for u in config.get("users") or []}
    context = next((c.get("context") or {} for c in config.get("contexts") or [] if c.get("name") == context_name), {})
    if clusters.get(context.get("cluster"), {}).get("server") != server:
        return None
    return users.get(context.get("user"), {}).get("token")


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
