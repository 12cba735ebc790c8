# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ca_intermediate does in one cluster: keep Secret cacerts (Istio's plug-in CA) holding a
valid intermediate of the mesh's root, re-issued or updated only when it is not, or remove it.

With revocation on (crl.py says what istiod and the proxies require), a new intermediate never
goes straight into cacerts: it is staged in Secret cacerts-next (`stage`), its CRL joins the
fleet's ca-crl.pem, which reaches every cluster (`publish`), and only then it is promoted into
cacerts (`promote`). So no workload presents a certificate whose chain lacks a CRL at its peers.

Check mode is the client's (it records the writes). No key material leaves pki.summary().
"""

from __future__ import annotations

import base64

from ansible_collections.meshops.multicluster.plugins.module_utils._trust import crl, pki
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import (
    CA_CRL_CONFIGMAP, CACERTS, CACERTS_NEXT, MANAGED_BY, MANAGED_BY_LABEL)
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.malformed import MalformedObject, reading
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import is_ours, managed_labels


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


def summary(data):
    """pki.summary plus the CRLs of ca-crl.pem (issuers, revoked serials, dates): never a key."""
    info = pki.summary(data)
    if data.get(crl.CA_CRL):
        try:
            info["crl"] = [crl.describe_crl(item) for item in crl.load_crls(crl.CA_CRL, data[crl.CA_CRL])]
        except pki.PkiError as exc:
            info["crl"] = {"malformed": str(exc)}
    return info


def inspect_revocation(client, data, namespace, fleet_crl):
    """{crl_reasons, crl_reason, crl_published} of a cluster while revocation is on: why its
    ca-crl.pem is not right (crl.inspect_crl against its cert-chain.pem and the fleet's file), and
    whether its istiod has published it (ConfigMap istio-ca-crl; None without one)."""
    try:
        chain = pki.load_certs((pki.CERT_CHAIN, pki.CERT_CHAIN, data.get(pki.CERT_CHAIN, "").encode()))
    except pki.PkiError:
        chain = []
    reasons = crl.inspect_crl(data.get(crl.CA_CRL), chain, fleet_crl)
    configmap = client.get("ConfigMap", CA_CRL_CONFIGMAP, namespace)
    published = None if configmap is None else ((configmap.get("data") or {}).get(crl.CA_CRL) == data.get(crl.CA_CRL))
    if published is False and data.get(crl.CA_CRL):
        reasons["not published"] = "ConfigMap %s/%s differs from cacerts' %s: istiod has not taken it" % (
            namespace, CA_CRL_CONFIGMAP, crl.CA_CRL)
    return {"crl_reasons": list(reasons), "crl_reason": pki.explain(reasons), "crl_published": published}


def staged_name(name):
    """The Secret holding a cluster's next intermediate until its CRL is everywhere (CACERTS_NEXT)."""
    return name + CACERTS_NEXT[len(CACERTS):]


def _reasons(params, secret, data, reasons):
    if secret is not None and not is_ours(secret):
        reasons["adopted"] = "adopt: true and the Secret lacks label %s=%s" % (MANAGED_BY_LABEL, MANAGED_BY)
    if params["force"]:
        reasons["forced"] = "force: true"
    if data.get(crl.CA_CRL) and not params.get("revocation"):
        reasons["crl removed"] = "revocation is off and cacerts holds %s" % crl.CA_CRL
    return reasons


def present(params, client, secret, root):
    """(result, before, after): re-issue or update the Secret when it is not valid."""
    if params.get("revocation"):
        return stage(params, client, secret, root)
    data, reasons = inspect(secret, params["namespace"], params["name"], root, params["cluster_name"],
                            params["renew_before_days"])
    reasons = _reasons(params, secret, data, reasons)
    new = data
    if reasons:
        new = pki.renew_cacerts(data, reasons, root, params["cluster_name"], params["key_type"],
                                params["validity_days"], namespace=params["namespace"])
        if client.get("Namespace", params["namespace"]) is None:
            client.apply(_namespace(params["namespace"]))
        client.apply(_secret(params, new))
    if "crl removed" in reasons:  # revocation turned off: an intermediate staged for it is not needed
        staged = staged_name(params["name"])
        if is_ours(client.get("Secret", staged, params["namespace"]) or {}):
            client.delete("Secret", staged, params["namespace"])
    after = pki.summary(new)
    action = "none" if not reasons else "updated" if new[pki.CA_CERT] == data.get(pki.CA_CERT) else "issued"
    result = dict(changed=bool(reasons), action=action, reasons=list(reasons), reason=pki.explain(reasons), **after)
    return result, summary(data) if secret else {}, after


# --- with revocation -------------------------------------------------------------------------

def _intermediate(data):
    """(cert, key) of cacerts data, or None when it holds none that can sign CRLs."""
    try:
        cert = pki.load_certs((pki.CA_CERT, pki.CA_CERT, data[pki.CA_CERT].encode()))[0]
        key = pki.load_key((pki.CA_KEY, pki.CA_KEY, data[pki.CA_KEY].encode()))
    except (KeyError, pki.PkiError):
        return None
    return (cert, key) if pki.can_sign_crl(cert) else None


def _own_crl(data, params):
    """The PEM CRL signed by the intermediate of data (the one already in its ca-crl.pem while
    fresh), or None."""
    pair = _intermediate(data)
    if pair is None:
        return None
    try:
        existing = crl.load_crls(crl.CA_CRL, data.get(crl.CA_CRL))
    except pki.PkiError:
        existing = []
    item, _signed = crl.crl_of(pair[0], pair[1], {}, existing, params["crl_days"], params["crl_renew_before_days"])
    return crl.crls_pem([item])


def _with_crl(new, data):
    """new cacerts data keeping the ca-crl.pem of data (publish() writes the fleet's)."""
    if data.get(crl.CA_CRL):
        new = dict(new, **{crl.CA_CRL: data[crl.CA_CRL]})
    return new


def stage(params, client, secret, root):
    """(result, before, after) with revocation on: root files updated in place, but a new
    intermediate (also one for an intermediate that lacks cRLSign) staged in cacerts-next; the CRLs of this cluster's
    intermediates (current and staged) returned for the fleet's ca-crl.pem."""
    data, reasons = inspect(secret, params["namespace"], params["name"], root, params["cluster_name"],
                            params["renew_before_days"])
    reasons = _reasons(params, secret, data, reasons)
    serial = ((pki.summary(data).get("intermediate") or {}).get("serial")) if data else None
    if serial and serial in (params.get("revoked_serials") or []):
        reasons["revoked"] = "serial %s is revoked (the fleet's CRL lists it)" % serial
    name = staged_name(params["name"])
    staged_secret = client.get("Secret", name, params["namespace"])
    staged, staged_reasons = inspect(staged_secret, params["namespace"], name, root, params["cluster_name"],
                                     params["renew_before_days"])
    new = data
    new_staged = staged if staged_secret is not None and not staged_reasons else None
    if reasons and set(reasons) <= pki.KEEP_INTERMEDIATE:
        new = _with_crl(pki.renew_cacerts(data, reasons, root, params["cluster_name"]), data)
    elif reasons and new_staged is None:
        new_staged = pki.issue_intermediate(root, params["cluster_name"], params["key_type"], params["validity_days"],
                                            namespace=params["namespace"])
    issued = new_staged is not None and new_staged is not staged
    if (new != data or issued) and client.get("Namespace", params["namespace"]) is None:
        client.apply(_namespace(params["namespace"]))
    if new != data:
        client.apply(_secret(params, new))
    if issued:
        client.apply(_secret(dict(params, name=name), new_staged))
    elif new_staged is None and staged_secret is not None:  # a stale one (another root, expired): not needed
        client.delete("Secret", name, params["namespace"])
    crls = [text for text in (_own_crl(new, params), _own_crl(new_staged or {}, params)) if text]
    changed = new != data or issued or (new_staged is None and staged_secret is not None)
    action = "staged" if issued else "updated" if changed else "none"
    after = summary(new_staged or new)
    result = dict(changed=changed, action=action, reasons=list(reasons), reason=pki.explain(reasons),
                  staged=bool(new_staged), crls=crls, intermediate_cert=(new_staged or new).get(pki.CA_CERT), **after)
    return result, summary(data) if secret else {}, after


def publish(params, client, secret, fleet_crl):
    """(result, before, after): the fleet's ca-crl.pem into cacerts and cacerts-next; with
    promote, the staged intermediate moves into cacerts (the fleet's CRL already everywhere)."""
    data = read_secret(secret, params["namespace"], params["name"]) if secret else {}
    name = staged_name(params["name"])
    staged_secret = client.get("Secret", name, params["namespace"])
    staged = read_secret(staged_secret, params["namespace"], name) if staged_secret else {}
    new = dict(data, **{crl.CA_CRL: fleet_crl}) if data else {}
    new_staged = dict(staged, **{crl.CA_CRL: fleet_crl}) if staged else {}
    if params["promote"] and new_staged:
        new, new_staged = new_staged, {}
        client.apply(_secret(params, new))
        client.delete("Secret", name, params["namespace"])
    else:
        if new and new != data:
            client.apply(_secret(params, new))
        if new_staged and new_staged != staged:
            client.apply(_secret(dict(params, name=name), new_staged))
    promoted = bool(params["promote"] and staged)
    changed = promoted or new != data or (bool(new_staged) and new_staged != staged)
    action = "promoted" if promoted else "updated" if changed else "none"
    after = summary(new)
    result = dict(changed=changed, action=action, reasons=[], reason="", staged=bool(new_staged), crls=[], **after)
    return result, summary(data) if secret else {}, after


def absent(params, client, secret, root):
    """(result, before, after): delete the Secret if it is there."""
    if secret is not None:
        client.delete("Secret", params["name"], params["namespace"])
    before = pki.summary(inspect(secret, params["namespace"], params["name"], None, None, 0)[0]) if secret else {}
    return dict(changed=secret is not None, action="deleted" if secret else "none", reasons=[], reason=""), before, {}
