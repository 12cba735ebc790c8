# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ca_intermediate does in one cluster: keep Secret cacerts (Istio's plug-in CA) holding a
valid intermediate of the mesh's root, re-issued or updated only when it is not, or remove it.

Check mode is the client's (it records the writes). No key material leaves pki.summary().
"""

from __future__ import annotations

import base64

from ansible_collections.meshops.multicluster.plugins.module_utils._trust import pki
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import is_ours, managed_labels
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import MANAGED_BY, MANAGED_BY_LABEL
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.malformed import MalformedObject, reading
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError


def load_root(params):
    """The signing root and bundle from the controller's files, with every check of the input."""
    root = pki.load_root(pki.read_source("root_cert", params["root_cert"]),
                         pki.read_key_file("root_key", params["root_key"]),
                         params["root_passphrase"], "root_passphrase",
                         [pki.read_source("root_bundle", item) for item in params["root_bundle"]])
    pki.check_intermediate_input(root, params["cluster_name"], params["validity_days"], params["renew_before_days"])
    return root


def read_secret(secret, namespace, name):
    """The text of every key of Secret cacerts ({} without the Secret); MalformedObject naming the
    Secret and the key whose value is not base64 (the value is never quoted: it may be a key)."""
    obj = "Secret %s/%s" % (namespace, name)
    with reading(obj, "data is not a map of keys to base64 values"):
        items = dict((secret or {}).get("data") or {}).items()
    data = {}
    for key, value in items:
        with reading(obj, "data.%s is not base64" % key):
            data[key] = base64.b64decode(value, validate=True).decode("utf-8", "replace")
    return data


def inspect(secret, namespace, name, root, cluster_name, renew_before_days):
    """(data, reasons) of Secret cacerts: its text and why it must change ({} when valid). A Secret
    that cannot be read is reason `malformed`, naming it, with no data."""
    if secret is None:
        return {}, {"missing": "no Secret %s/%s" % (namespace, name)}
    try:
        data = read_secret(secret, namespace, name)
    except MalformedObject as exc:
        return {}, {"malformed": exc.problem}
    return data, pki.inspect_cacerts(data, root, cluster_name, renew_before_days)


def not_ours(params, secret):
    """The MeshError refusing a Secret the collection did not create (unless adopted with state
    present), or None."""
    if secret is None or is_ours(secret) or (params["adopt"] and params["state"] == "present"):
        return None
    verb = "overwrite" if params["state"] == "present" else "delete"
    return MeshError("Secret %s/%s exists but is not managed by %s (no label %s=%s): refusing to %s it; set adopt: "
                     "true to take it over, or remove it yourself"
                     % (params["namespace"], params["name"], MANAGED_BY, MANAGED_BY_LABEL, MANAGED_BY, verb),
                     field="adopt", fix="set adopt: true to take it over, or remove it yourself")


def _namespace(name):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": managed_labels()}}


def _secret(params, data):
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": params["name"], "namespace": params["namespace"], "labels": managed_labels()},
            "data": pki.encode_secret_data(data)}


def present(params, client, secret, root):
    """(result, before, after): re-issue or update the Secret when it is not valid."""
    data, reasons = inspect(secret, params["namespace"], params["name"], root, params["cluster_name"],
                            params["renew_before_days"])
    if secret is not None and not is_ours(secret):
        reasons["adopted"] = "adopt: true and the Secret lacks label %s=%s" % (MANAGED_BY_LABEL, MANAGED_BY)
    if params["force"]:
        reasons["forced"] = "force: true"
    new = data
    if reasons:
        new = pki.renew_cacerts(data, reasons, root, params["cluster_name"], params["key_type"],
                                params["validity_days"], namespace=params["namespace"])
        if client.get("Namespace", params["namespace"]) is None:
            client.apply(_namespace(params["namespace"]))
        client.apply(_secret(params, new))
    after = pki.summary(new)
    action = "none" if not reasons else "updated" if new[pki.CA_CERT] == data.get(pki.CA_CERT) else "issued"
    result = dict(changed=bool(reasons), action=action, reasons=list(reasons), reason=pki.explain(reasons), **after)
    return result, pki.summary(data) if secret else {}, after


def absent(params, client, secret, root):
    """(result, before, after): delete the Secret if it is there."""
    if secret is not None:
        client.delete("Secret", params["name"], params["namespace"])
    before = pki.summary(inspect(secret, params["namespace"], params["name"], None, None, 0)[0]) if secret else {}
    return dict(changed=secret is not None, action="deleted" if secret else "none", reasons=[], reason=""), before, {}
