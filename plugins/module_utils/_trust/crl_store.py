# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ca_crl does on the controller: build the fleet's ca-crl.pem from the root and the CRLs of
every cluster's intermediates, and keep it, with the record of intermediates and revocations,
next to the root (crl.py says what both hold). Check mode is decided here, at the writes.
"""

from __future__ import annotations

import json
import os

from ansible_collections.meshops.multicluster.plugins.module_utils._trust import crl, pki
from ansible_collections.meshops.multicluster.plugins.module_utils._common.files import read_file, write_atomic
from ansible_collections.meshops.multicluster.plugins.module_utils._trust.root_store import CERT_NAME, KEY_NAME


def _load_root(cert_field, cert_path, key_field, key_path, passphrase):
    root = pki.load_root(pki.read_source(cert_field, cert_path), pki.read_key_file(key_field, key_path),
                         passphrase, "root_passphrase")
    if not pki.can_sign_crl(root.cert):
        raise pki.PkiError(cert_field, cert_path, "lacks keyUsage cRLSign",
                           "a root allowed to sign CRLs: revocation is unavailable with this root; re-certify it "
                           "with cRLSign through the rotation phases (docs/operations.md#an-installed-fleet-moves-to-crlsign-first)")
    return root


def _roots(params):
    """The signing root, then the other roots of a rotation (next/, previous/), each with its key:
    every root a chain in the mesh may end at signs a CRL, so no chain lacks one mid-rotation."""
    roots = [_load_root("root_cert", params["root_cert"], "root_key", params["root_key"], params["root_passphrase"])]
    for number, path in enumerate(params["other_roots"]):
        field = "other_roots[%d]" % number
        roots.append(_load_root(field, os.path.join(path, CERT_NAME), field, os.path.join(path, KEY_NAME),
                                params["root_passphrase"]))
    return roots


def _intermediates(params):
    """({cluster: record entry}, [CRL], staying) from each cluster's ca_intermediate result; staying:
    the key ids of the intermediates the clusters present after this run (with promote, a staged
    one replaces the one in cacerts)."""
    entries, crls, staying = {}, [], set()
    for number, item in enumerate(params["intermediates"]):
        field = "intermediates[%d]" % number
        if not item.get("cluster_name") or not item.get("intermediate_cert"):
            raise pki.PkiError(field, sorted(item), "lacks cluster_name or intermediate_cert",
                               "a result of ca_intermediate with revocation: true")
        cluster = item["cluster_name"]
        cert = pki.load_certs((field + ".intermediate_cert", pki.PEM_CONTENT, item["intermediate_cert"].encode()))[0]
        entries[cluster] = crl.entry_of(cluster, cert)
        own = [found for text in item.get("crls") or [] for found in crl.load_crls(field + ".crls", text)]
        crls.extend(own)
        promoted = params["promote"] and item.get("staged")
        staying |= {crl.key_id(cert)} if promoted else {crl.authority_key_id(found) for found in own}
    return entries, crls, staying


def _read_json(path):
    data = read_file(path)
    if data is None:
        return crl.empty_record()
    try:
        return crl.check_record(json.loads(data), path)
    except ValueError:
        raise pki.PkiError("record", path, "is not JSON", "the record ca_crl wrote (restore it from a backup)")


def _shown(record, crls, now):
    return {"revoked": sorted(record["revoked"]), "superseded": sorted(record["superseded"]), "crls": [
        {key: value for key, value in crl.describe_crl(item, now).items() if key in ("issuer", "revoked", "next_update")}
        for item in crls]}


def ensure_fleet_crl(params, check_mode):
    """(result, diff) of the fleet's CRL; raises PkiError on bad input before writing anything."""
    crl.check_crl_days(params["crl_days"], params["crl_renew_before_days"])
    roots = _roots(params)
    now = pki.utcnow()
    record_path = os.path.join(params["path"], crl.RECORD_FILE)
    crl_path = os.path.join(params["path"], crl.CA_CRL)
    record = _read_json(record_path)
    current, cluster_crls, staying = _intermediates(params)
    previous_text = (read_file(crl_path) or b"").decode()
    previous = crl.load_crls(crl_path, previous_text)
    presented = {crl.authority_key_id(item) for item in cluster_crls}
    revoke = crl.resolve_revoked(record, params["revoked"], params["inventory_clusters"], params["revoke_departed"])
    if params["revoke_superseded"]:
        revoke.update(crl.superseded_to_revoke(record, set(current), presented,
                                               params["revoke_superseded_after_hours"], now))
    new_record = crl.updated_record(record, current, revoke, now, presented - staying, staying)
    root_crls = []
    for root in roots:  # a root certified again (same key and subject) reuses the CRL its twin signed
        root_crls.append(crl.crl_of(root.cert, root.key, crl.revocation_dates(new_record), root_crls + previous,
                                    params["crl_days"], params["crl_renew_before_days"], now)[0])
    # A cluster of this run still presenting a revoked intermediate (one that rejoins, until its new
    # one is promoted) keeps that intermediate's CRL in the file: istiod refuses a ca-crl.pem without
    # a CRL of each CA of its chain, and would then never take the file that promotes the new one.
    # The root's CRL revokes the intermediate all the same. Departed ones are not carried over.
    revoked_keys = {entry.get("key_id") for entry in new_record["revoked"].values()}
    others = [item for item in previous if not any(crl.signed_by(item, root.cert) for root in roots)]
    text = crl.fleet_crl(root_crls, cluster_crls + crl.carried_over(others, cluster_crls, revoked_keys, now))
    record_text = (json.dumps(new_record, indent=2, sort_keys=True) + "\n").encode()
    changed = text != previous_text or record_text != read_file(record_path)
    if changed and not check_mode:
        write_atomic(record_path, record_text, 0o644)
        write_atomic(crl_path, text.encode(), 0o644)
    crls = crl.load_crls(crl.CA_CRL, text)
    result = {"changed": changed, "crl": text, "crl_path": crl_path, "record_path": record_path,
              "revoked": [dict(entry, serial=serial) for serial, entry in new_record["revoked"].items()],
              "superseded": [dict(entry, serial=serial) for serial, entry in new_record["superseded"].items()],
              "departed": [] if params["revoke_departed"] else crl.departed(new_record, params["inventory_clusters"]),
              "crls": [crl.describe_crl(item, now) for item in crls]}
    diff = {"before": _shown(record, previous, now), "after": _shown(new_record, crls, now)}
    return result, diff
