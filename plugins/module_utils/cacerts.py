# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ca_intermediate does in one cluster: keep Secret cacerts (Istio's plug-in CA) holding a
valid intermediate of the mesh's root, re-issued or updated only when it is not, or remove it.

Check mode is decided here, at the writes. No key material leaves pki.summary().
"""

from __future__ import annotations

from ansible_collections.meshops.multicluster.plugins.module_utils import pki
from ansible_collections.meshops.multicluster.plugins.module_utils.k8s import (
    MANAGED_BY, MANAGED_BY_LABEL, is_ours, managed_labels)


def load_root(params):
    """The signing root and bundle from the controller's files, with every check of the input."""
    root = pki.load_root(pki.read_source("root_cert", params["root_cert"]),
                         pki.read_key_file("root_key", params["root_key"]),
                         params["root_passphrase"], "root_passphrase",
                         [pki.read_source("root_bundle", item) for item in params["root_bundle"]])
    pki.check_intermediate_input(root, params["cluster_name"], params["validity_days"], params["renew_before_days"])
    return root


def _namespace(name):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": managed_labels()}}


def _secret(params, data):
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": params["name"], "namespace": params["namespace"], "labels": managed_labels()},
            "data": pki.encode_secret_data(data)}


def present(params, client, secret, root, check_mode=False):
    """(result, before, after): re-issue or update the Secret when it is not valid."""
    data = pki.decode_secret_data(secret)
    if secret is None:
        reasons = {"missing": "no Secret %s/%s" % (params["namespace"], params["name"])}
    else:
        reasons = pki.inspect_cacerts(data, root, params["cluster_name"], params["renew_before_days"])
        if not is_ours(secret):
            reasons["adopted"] = "adopt: true and the Secret lacks label %s=%s" % (MANAGED_BY_LABEL, MANAGED_BY)
    if params["force"]:
        reasons["forced"] = "force: true"
    new = data
    if reasons:
        new = pki.renew_cacerts(data, reasons, root, params["cluster_name"], params["key_type"],
                                params["validity_days"], namespace=params["namespace"])
        if not check_mode:
            if client.get("Namespace", params["namespace"]) is None:
                client.apply(_namespace(params["namespace"]))
            client.apply(_secret(params, new))
    after = pki.summary(new)
    action = "none" if not reasons else "updated" if new[pki.CA_CERT] == data.get(pki.CA_CERT) else "issued"
    result = dict(changed=bool(reasons), action=action, reasons=list(reasons), reason=pki.explain(reasons), **after)
    return result, pki.summary(data) if secret else {}, after


def absent(params, client, secret, root, check_mode=False):
    """(result, before, after): delete the Secret if it is there."""
    if secret is not None and not check_mode:
        client.delete("Secret", params["name"], params["namespace"])
    before = pki.summary(pki.decode_secret_data(secret)) if secret else {}
    return dict(changed=secret is not None, action="deleted" if secret else "none", reasons=[], reason=""), before, {}
