#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ca_intermediate
short_description: Ensure a cluster's Istio plug-in CA (Secret istio-system/cacerts)
version_added: 1.0.0
description:
  - Ensures Secret C(istio-system/cacerts) of one cluster holds C(ca-cert.pem), an intermediate CA
    signed by the mesh's root (C(O=Istio, CN=Intermediate CA, L=<cluster>), C(CA:true, pathlen:0),
    C(keyCertSign), SAN C(DNS:istiod.istio-system.svc)), its key C(ca-key.pem), C(root-cert.pem)
    (the root, or the root bundle while rotating) and C(cert-chain.pem) (intermediate + root).
  - A valid Secret is left alone. Valid means the intermediate was issued by the root, its key
    matches, its constraints are right, it names the cluster and it does not expire within
    O(renew_before_days). Otherwise a new intermediate is issued and RV(reasons) say why. When
    only C(root-cert.pem) or C(cert-chain.pem) are off, the intermediate is kept and those rewritten.
  - The intermediate key is generated in memory and written only into the Secret; it never
    appears in results or diffs.
  - Creates namespace C(istio-system) if missing (labelled as the collection's); never changes an
    existing namespace.
  - A C(cacerts) Secret without the label C(app.kubernetes.io/managed-by=meshops.multicluster) is
    never overwritten or deleted unless O(adopt=true).
  - All input is checked before the cluster is contacted.
options:
  cluster_name:
    description:
      - Name of the cluster, a DNS-1123 label; becomes the intermediate's subject C(L=).
    type: str
    required: true
  state:
    description: C(absent) deletes the Secret (the namespace stays).
    type: str
    choices: [present, absent]
    default: present
  root_cert:
    description: PEM file of the root certificate on the controller. Required with O(state=present).
    type: path
  root_key:
    description:
      - PEM file of the root key on the controller. Required with O(state=present).
      - A path only; key text here is refused, without being shown.
    type: path
  root_passphrase:
    description: Passphrase of an encrypted O(root_key).
    type: str
  root_bundle:
    description:
      - Further root certificates to put into C(root-cert.pem) (root rotation), each a PEM file
        path or PEM text.
    type: list
    elements: str
    default: []
  key_type:
    description: Key of a new intermediate.
    type: str
    choices: [rsa, ec]
    default: rsa
  validity_days:
    description: Lifetime of a new intermediate; at most the root's remaining life.
    type: int
    default: 730
  force:
    description: Issue a new intermediate even if the current one is valid.
    type: bool
    default: false
  adopt:
    description: Take over (label and, if invalid, replace) a C(cacerts) Secret the collection did not create.
    type: bool
    default: false
  revocation:
    description:
      - Revocation is on (M(meshops.multicluster.ca_crl)). A new intermediate, and one whose key usage lacks
        C(cRLSign), is not written into C(cacerts) but staged in Secret C(cacerts-next), until its CRL is in
        every cluster's C(ca-crl.pem) (O(crl), O(promote)). RV(crls) returns the CRLs of the cluster's
        intermediates, kept while fresh.
      - Without it, a C(ca-crl.pem) in C(cacerts) is removed (revocation turned off).
    type: bool
    default: false
    version_added: 1.1.0
  revoked_serials:
    description:
      - With O(revocation), serials (hex) of revoked intermediates (the record of M(meshops.multicluster.ca_crl)); a
        cluster whose intermediate is among them gets a new one (staged), e.g. a revoked cluster that rejoins.
    type: list
    elements: str
    default: []
    version_added: 1.1.0
  crl_days:
    description: With O(revocation), days between a CRL's C(thisUpdate) and C(nextUpdate).
    type: int
    default: 30
    version_added: 1.1.0
  crl_renew_before_days:
    description: With O(revocation), a CRL with fewer days left than this is signed again.
    type: int
    default: 10
    version_added: 1.1.0
  crl:
    description:
      - The fleet's C(ca-crl.pem) (RV(meshops.multicluster.ca_crl#module:crl)) to write into C(cacerts) and C(cacerts-next).
        Nothing else is checked or changed in this call.
    type: str
    version_added: 1.1.0
  promote:
    description:
      - With O(crl), move a staged intermediate (Secret C(cacerts-next)) into C(cacerts) and delete
        C(cacerts-next). Only once O(crl) is in every cluster and published by its istiod.
    type: bool
    default: false
    version_added: 1.1.0
extends_documentation_fragment:
  - meshops.multicluster.k8s_auth
  - meshops.multicluster.cacerts
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Fingerprints, subjects, serials and dates of the certificates; never keys or Secret data.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
seealso:
  - module: meshops.multicluster.ca_root
  - module: meshops.multicluster.ca_intermediate_info
  - module: meshops.multicluster.mesh_check
  - ref: ansible_collections.meshops.multicluster.docsite.operations-rotate
    description: Re-issuing intermediates and rotating the root, phase by phase.
  - ref: ansible_collections.meshops.multicluster.docsite.permissions
    description: What the trust step may do in a cluster (Secret cacerts only).
  - ref: ansible_collections.meshops.multicluster.docsite.troubleshooting
    description: "x509: certificate signed by unknown authority, and Secrets owned by someone else."
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
# Every cluster of the inventory, from the controller, as the trust role does it.
# In a play on the hosts of group mesh_clusters with connection: local. module_defaults on the block
# connect every module of group meshops.multicluster.k8s to this host's cluster.
- name: Intermediate CAs of the fleet
  module_defaults:
    group/meshops.multicluster.k8s:
      kubeconfig: "{{ mesh_kubeconfig | default(omit) }}"
      context: "{{ mesh_context | default(omit) }}"
  block:
    - name: Ensure this cluster's intermediate CA (Secret istio-system/cacerts)
      meshops.multicluster.ca_intermediate:
        cluster_name: "{{ mesh_cluster_name | default(inventory_hostname) }}"
        root_cert: "{{ inventory_dir }}/mesh-ca/root-cert.pem"
        root_key: "{{ inventory_dir }}/mesh-ca/root-key.pem"
        root_passphrase: "{{ vault_mesh_ca_passphrase }}"
        validity_days: 365
        renew_before_days: 45
      register: intermediate

    - name: Say why a cluster got a new intermediate
      ansible.builtin.debug:
        msg: "{{ intermediate.secret }}: {{ intermediate.action }} ({{ intermediate.reason }}), expires {{ intermediate.intermediate.not_after }}"
      when: intermediate.action != 'none'

# What a re-issue would change, without writing: fingerprints and dates only, never the key.
- name: Preview a forced re-issue
  meshops.multicluster.ca_intermediate:
    cluster_name: east
    root_cert: /srv/mesh-ca/root-cert.pem
    root_key: /srv/mesh-ca/root-key.pem
    root_passphrase: "{{ vault_mesh_ca_passphrase }}"
    force: true
  check_mode: true
  diff: true

- name: Root rotation - every cluster trusts the current and the next root
  meshops.multicluster.ca_intermediate:
    cluster_name: "{{ mesh_cluster_name | default(inventory_hostname) }}"
    root_cert: /srv/mesh-ca/root-cert.pem
    root_key: /srv/mesh-ca/root-key.pem
    root_passphrase: "{{ vault_mesh_ca_passphrase }}"
    root_bundle:
      - /srv/mesh-ca/next/root-cert.pem

- name: Take over a cacerts Secret that an earlier manual install created
  meshops.multicluster.ca_intermediate:
    cluster_name: west
    namespace: istio-system
    root_cert: /srv/mesh-ca/root-cert.pem
    root_key: /srv/mesh-ca/root-key.pem
    root_passphrase: "{{ vault_mesh_ca_passphrase }}"
    adopt: true

# With revocation on: stage, build the fleet's CRL (ca_crl), publish it everywhere, then promote.
- name: Intermediate CA with revocation on (a new one waits in cacerts-next)
  meshops.multicluster.ca_intermediate:
    cluster_name: "{{ mesh_cluster_name | default(inventory_hostname) }}"
    root_cert: /srv/mesh-ca/root-cert.pem
    root_key: /srv/mesh-ca/root-key.pem
    root_passphrase: "{{ vault_mesh_ca_passphrase }}"
    revocation: true
  register: intermediate

- name: Promote a staged intermediate once the fleet's CRL (from ca_crl) is everywhere
  meshops.multicluster.ca_intermediate:
    cluster_name: "{{ mesh_cluster_name | default(inventory_hostname) }}"
    root_cert: /srv/mesh-ca/root-cert.pem
    root_key: /srv/mesh-ca/root-key.pem
    root_passphrase: "{{ vault_mesh_ca_passphrase }}"
    revocation: true
    crl: "{{ fleet_crl.crl }}"
    promote: true

- name: Remove the plug-in CA of a cluster that leaves the mesh
  meshops.multicluster.ca_intermediate:
    cluster_name: east
    state: absent
"""

RETURN = r"""
action:
  description:
    - C(none), C(issued) (new intermediate), C(updated) (same intermediate, new root files, labels or CRL) or C(deleted).
    - With O(revocation), C(staged) (new intermediate in C(cacerts-next)); with O(promote), C(promoted).
  returned: always
  type: str
  sample: issued
reasons:
  description:
    - Why the Secret was (or in check mode would be) written; empty when it was valid.
    - C(missing), C(incomplete), C(malformed), C(not a CA), C(bad pathlen), C(bad key usage),
      C(key mismatch), C(wrong root), C(not yet valid), C(expiring), C(wrong cluster),
      C(root bundle changed), C(chain mismatch), C(forced), C(adopted), C(crl removed), C(no crl sign), C(revoked).
  returned: always
  type: list
  elements: str
  sample: [expiring]
reason:
  description: The reasons with their details, one sentence.
  returned: always
  type: str
  sample: "expiring: not after 2027-01-02T10:00:00Z, 27 days left (renew_before_days 30)"
secret:
  description: namespace/name of the Secret.
  returned: always
  type: str
  sample: istio-system/cacerts
intermediate:
  description: The intermediate now in the Secret (or that would be); certificates only.
  returned: when state=present
  type: dict
  contains:
    subject:
      description: Subject DN.
      type: str
      sample: L=east,CN=Intermediate CA,O=Istio
    issuer:
      description: Issuer DN.
      type: str
      sample: CN=Root CA,O=Istio
    serial:
      description: Serial number (hex).
      type: str
      sample: 4c1f0e7a9b2d36e58a01f3c7d94b6e20a5c8f113
    fingerprint:
      description: SHA-256 fingerprint.
      type: str
      sample: "C3:9A:51:0E:D4:7B:26:F1:8C:03:BE:65:1A:D9:47:E2:70:5F:B8:2C:93:E6:0D:4A:71:C5:38:9F:E4:12:6B:AD"
    not_before:
      description: Start of validity (UTC).
      type: str
      sample: "2026-12-06T03:40:00Z"
    not_after:
      description: End of validity (UTC).
      type: str
      sample: "2028-12-05T03:40:00Z"
    days_left:
      description: Whole days until expiry.
      type: int
      sample: 729
root_fingerprint:
  description: Fingerprint of the root that signed the intermediate.
  returned: when state=present
  type: str
  sample: "5E:0B:7C:91:3A:D2:44:F8:1C:6E:A9:02:B7:53:8D:E1:0F:29:C4:76:9B:E3:12:5A:D8:60:41:AF:3C:97:E5:0D"
root_fingerprints:
  description: Fingerprints of the roots in C(root-cert.pem).
  returned: when state=present
  type: list
  elements: str
  sample:
    - "5E:0B:7C:91:3A:D2:44:F8:1C:6E:A9:02:B7:53:8D:E1:0F:29:C4:76:9B:E3:12:5A:D8:60:41:AF:3C:97:E5:0D"
staged:
  description: With O(revocation), whether a new intermediate waits in Secret C(cacerts-next).
  returned: when state=present
  type: bool
  sample: false
  version_added: 1.1.0
crls:
  description:
    - With O(revocation) and without O(crl), the PEM CRLs signed by this cluster's intermediates (current and
      staged), for M(meshops.multicluster.ca_crl). Public data, no key.
  returned: when state=present
  type: list
  elements: str
  sample: ["-----BEGIN X509 CRL-----\nMIHxMIGZAgEBMAoGCCqGSM49BAMCMDkxDjAMBgNVBAoMBUlzdGlv...\n-----END X509 CRL-----\n"]
  version_added: 1.1.0
intermediate_cert:
  description: With O(revocation) and without O(crl), the intermediate the cluster will present (PEM, the staged one if any).
  returned: when state=present
  type: str
  sample: "-----BEGIN CERTIFICATE-----\nMIIFFzCCAv+gAwIBAgIUQ2...\n-----END CERTIFICATE-----\n"
  version_added: 1.1.0
crl:
  description: The CRLs of C(ca-crl.pem) in the Secret, as RV(meshops.multicluster.ca_intermediate_info#module:crl) describes them.
  returned: when state=present and the Secret holds ca-crl.pem
  type: list
  elements: dict
  sample: [{issuer: "CN=Root CA,O=Istio", revoked: [], next_update: "2027-01-05T10:02:11Z", days_left: 29}]
  version_added: 1.1.0
api_requests:
  description: Kubernetes API requests made, by kind (C(read), C(write)).
  returned: always
  type: dict
  sample: {read: 2, write: 1}
"""

from ansible_collections.meshops.multicluster.plugins.module_utils._trust import pki
from ansible_collections.meshops.multicluster.plugins.module_utils._trust.cacerts import absent, load_root, not_ours, present, publish
from ansible_collections.meshops.multicluster.plugins.module_utils._trust.crl import CRL_RENEW_BEFORE_DAYS, CRL_VALIDITY_DAYS, check_crl_days
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import fail_with, k8s_client, k8s_module, require_cryptography
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import CACERTS, ISTIO_NAMESPACE


def main():
    module = k8s_module(
        dict(
            cluster_name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            root_cert=dict(type="path"),
            root_key=dict(type="path", no_log=False),
            root_passphrase=dict(type="str", no_log=True),
            root_bundle=dict(type="list", elements="str", default=[]),
            key_type=dict(type="str", choices=list(pki.KEY_TYPES), default="rsa"),
            validity_days=dict(type="int", default=pki.INTERMEDIATE_VALIDITY_DAYS),
            renew_before_days=dict(type="int", default=pki.RENEW_BEFORE_DAYS),
            force=dict(type="bool", default=False),
            adopt=dict(type="bool", default=False),
            namespace=dict(type="str", default=ISTIO_NAMESPACE),
            name=dict(type="str", default=CACERTS),
            revocation=dict(type="bool", default=False),
            revoked_serials=dict(type="list", elements="str", default=[]),
            crl_days=dict(type="int", default=CRL_VALIDITY_DAYS),
            crl_renew_before_days=dict(type="int", default=CRL_RENEW_BEFORE_DAYS),
            crl=dict(type="str"),
            promote=dict(type="bool", default=False),
        ),
        key_file_options=("root_key",),
        required_if=[("state", "present", ("root_cert", "root_key"))],
        supports_check_mode=True,
    )
    require_cryptography(module)
    params = module.params
    state = params["state"]
    try:
        pki.check_cluster_name(params["cluster_name"])
        root = load_root(params) if state == "present" else None
        if params["revocation"]:
            check_crl_days(params["crl_days"], params["crl_renew_before_days"])
    except MeshError as exc:
        fail_with(module, exc)
    name = "%s/%s" % (params["namespace"], params["name"])
    client = k8s_client(module)
    where = "cluster %s" % params["cluster_name"]
    try:
        secret = client.get("Secret", params["name"], params["namespace"])
    except MeshError as exc:
        fail_with(module, exc, client, where=where, secret=name)
    refused = not_ours(params, secret)
    if refused:
        fail_with(module, refused, client, secret=name)
    try:
        if state == "present" and params["crl"] is not None:
            result, before, after = publish(params, client, secret, params["crl"])
        else:
            act = present if state == "present" else absent
            result, before, after = act(params, client, secret, root)
    except MeshError as exc:
        fail_with(module, exc, client, where=where, secret=name)
    result.update(cluster_name=params["cluster_name"], secret=name, api_requests=client.requests)
    if module._diff:
        result["diff"] = {"before": before, "after": after, "before_header": name,
                          "after_header": "%s (%s%s)" % (name, result["action"],
                                                         ": " + ", ".join(result["reasons"]) if result["reasons"] else "")}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
