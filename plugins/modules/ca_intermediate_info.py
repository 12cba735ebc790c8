#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ca_intermediate_info
short_description: Report a cluster's Istio plug-in CA (Secret istio-system/cacerts)
version_added: 1.0.0
description:
  - Reads Secret C(istio-system/cacerts) of one cluster and reports its root fingerprint,
    intermediate subject, serial, expiry and days left, so a fleet report can put clusters side by side.
  - Checks it as M(meshops.multicluster.ca_intermediate) would and returns the RV(reasons) it is not
    valid. Without O(root_cert), the intermediate is checked against the roots of its own C(root-cert.pem).
  - Never returns key material.
options:
  cluster_name:
    description: Name the intermediate's subject C(L=) must carry; not checked when omitted.
    type: str
  root_cert:
    description: PEM file of the mesh's root certificate on the controller, to check the Secret against.
    type: path
  root_bundle:
    description: Further root certificates (files or PEM text) C(root-cert.pem) must hold besides O(root_cert).
    type: list
    elements: str
    default: []
  crl:
    description:
      - The fleet's C(ca-crl.pem) (PEM text, RV(meshops.multicluster.ca_crl#module:crl)); revocation is on. RV(crl_reasons) then says
        whether the Secret's C(ca-crl.pem) is missing, malformed, expired, lacks the CRL of a CA of its
        C(cert-chain.pem), is not the fleet's, or is not yet published by istiod (ConfigMap C(istio-ca-crl)).
    type: str
    version_added: 1.1.0
extends_documentation_fragment:
  - meshops.multicluster.k8s_auth
  - meshops.multicluster.cacerts
  - meshops.multicluster.attributes.read_only
seealso:
  - module: meshops.multicluster.ca_intermediate
  - module: meshops.multicluster.ca_root
  - module: meshops.multicluster.mesh_report
  - ref: ansible_collections.meshops.multicluster.docsite.operations-rotate
    description: Intermediates, their renewal, and root rotation.
  - ref: ansible_collections.meshops.multicluster.docsite.troubleshooting
    description: "x509: certificate signed by unknown authority - comparing the clusters' roots."
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
# In a play on the hosts of group mesh_clusters with connection: local. module_defaults on the block
# connect every module of group meshops.multicluster.k8s to this host's cluster.
- name: Expiry of every cluster's intermediate CA
  module_defaults:
    group/meshops.multicluster.k8s:
      kubeconfig: "{{ mesh_kubeconfig | default(omit) }}"
      context: "{{ mesh_context | default(omit) }}"
  block:
    - name: Read this cluster's plug-in CA, checked against the mesh's root
      meshops.multicluster.ca_intermediate_info:
        cluster_name: "{{ mesh_cluster_name | default(inventory_hostname) }}"
        root_cert: "{{ inventory_dir }}/mesh-ca/root-cert.pem"
        renew_before_days: 60
      register: cacerts

    - name: Show the clusters side by side
      ansible.builtin.debug:
        msg: >-
          {{ item }}: root {{ hostvars[item].cacerts.root_fingerprint | default('-') }},
          {{ hostvars[item].cacerts.intermediate.days_left | default('-') }} days left,
          {{ 'valid' if hostvars[item].cacerts.valid else hostvars[item].cacerts.reason }}
      loop: "{{ ansible_play_hosts }}"
      run_once: true

    - name: Fail the job when an intermediate must be re-issued
      ansible.builtin.assert:
        that: cacerts.valid
        fail_msg: "{{ cacerts.secret }} of {{ inventory_hostname }}: {{ cacerts.reason }} - run playbooks/trust.yml"

# Without the root file (a fresh AWX container): which root do the clusters already trust?
- name: Read the root the cluster's intermediate was signed by
  meshops.multicluster.ca_intermediate_info:
    namespace: istio-system
  register: existing

- name: Show it
  ansible.builtin.debug:
    msg: "{{ 'no cacerts Secret' if not existing.exists else existing.root_fingerprint }}"
"""

RETURN = r"""
crl:
  description: The CRLs of the Secret's C(ca-crl.pem) - issuer, revoked serials, this and next update, age, days left.
  returned: when the Secret holds ca-crl.pem
  type: list
  elements: dict
  sample:
    - {issuer: "CN=Root CA,O=Istio", revoked: [], this_update: "2026-12-06T09:57:11Z", next_update: "2027-01-05T10:02:11Z",
       age_days: 0, days_left: 29}
  version_added: 1.1.0
crl_reasons:
  description:
    - With O(crl), what is wrong with the Secret's C(ca-crl.pem) - C(missing), C(malformed), C(missing CRL),
      C(expired), C(not current), C(not published); empty when it is right.
  returned: when crl is given and the Secret exists
  type: list
  elements: str
  sample: []
  version_added: 1.1.0
crl_reason:
  description: RV(crl_reasons) with their details.
  returned: when crl is given and the Secret exists
  type: str
  sample: "not current: ca-crl.pem differs from the fleet's current one"
  version_added: 1.1.0
crl_published:
  description: Whether istiod's ConfigMap C(istio-ca-crl) holds the Secret's C(ca-crl.pem); null without that ConfigMap.
  returned: when crl is given and the Secret exists
  type: bool
  sample: true
  version_added: 1.1.0
exists:
  description: Whether the Secret exists.
  returned: always
  type: bool
  sample: true
managed:
  description: Whether the Secret carries the collection's managed-by label.
  returned: always
  type: bool
  sample: true
valid:
  description: Whether M(meshops.multicluster.ca_intermediate) would leave the Secret alone.
  returned: always
  type: bool
  sample: false
reasons:
  description: Why it is not valid (C(missing), C(expiring), C(wrong root), ...); empty when valid.
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
  description:
    - The intermediate, certificates only - its C(subject), C(issuer), C(serial) (hex), C(fingerprint) (SHA-256),
      C(not_before), C(not_after) (UTC) and C(days_left), as in RV(meshops.multicluster.ca_intermediate#module:intermediate).
  returned: when the Secret holds a readable ca-cert.pem
  type: dict
  sample:
    subject: L=east,CN=Intermediate CA,O=Istio
    issuer: CN=Root CA,O=Istio
    serial: 4c1f0e7a9b2d36e58a01f3c7d94b6e20a5c8f113
    fingerprint: "C3:9A:51:0E:D4:7B:26:F1:8C:03:BE:65:1A:D9:47:E2:70:5F:B8:2C:93:E6:0D:4A:71:C5:38:9F:E4:12:6B:AD"
    not_before: "2025-01-02T10:00:00Z"
    not_after: "2027-01-02T10:00:00Z"
    days_left: 27
root_fingerprint:
  description: SHA-256 fingerprint of the root in C(root-cert.pem) that signed the intermediate, null if none did.
  returned: when the Secret holds a readable ca-cert.pem
  type: str
  sample: "5E:0B:7C:91:3A:D2:44:F8:1C:6E:A9:02:B7:53:8D:E1:0F:29:C4:76:9B:E3:12:5A:D8:60:41:AF:3C:97:E5:0D"
root_fingerprints:
  description: Fingerprints of every root in C(root-cert.pem).
  returned: when the Secret holds a readable ca-cert.pem
  type: list
  elements: str
  sample:
    - "5E:0B:7C:91:3A:D2:44:F8:1C:6E:A9:02:B7:53:8D:E1:0F:29:C4:76:9B:E3:12:5A:D8:60:41:AF:3C:97:E5:0D"
api_requests:
  description: Kubernetes API requests made, by kind (C(read), C(write)).
  returned: always
  type: dict
  sample: {read: 1, write: 0}
malformed:
  description: Present (true) when the Secret exists but its C(ca-cert.pem) or C(root-cert.pem) cannot be read.
  returned: when the Secret's certificates cannot be read
  type: bool
  sample: true
"""

from ansible_collections.meshops.multicluster.plugins.module_utils._trust import cacerts
from ansible_collections.meshops.multicluster.plugins.module_utils._trust import pki
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import fail_with, k8s_client, k8s_module, require_cryptography
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import CACERTS, ISTIO_NAMESPACE, is_ours


def main():
    module = k8s_module(
        dict(
            cluster_name=dict(type="str"),
            root_cert=dict(type="path"),
            root_bundle=dict(type="list", elements="str", default=[]),
            renew_before_days=dict(type="int", default=pki.RENEW_BEFORE_DAYS),
            namespace=dict(type="str", default=ISTIO_NAMESPACE),
            name=dict(type="str", default=CACERTS),
            crl=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    require_cryptography(module)
    params = module.params
    try:
        if params["cluster_name"] is not None:
            pki.check_cluster_name(params["cluster_name"])
        root = None
        if params["root_cert"]:
            root = pki.load_root(pki.read_source("root_cert", params["root_cert"]),
                                 bundle=[pki.read_source("root_bundle", item) for item in params["root_bundle"]])
    except MeshError as exc:
        fail_with(module, exc)
    name = "%s/%s" % (params["namespace"], params["name"])
    client = k8s_client(module)
    try:
        secret = client.get("Secret", params["name"], params["namespace"])
    except MeshError as exc:
        fail_with(module, exc, client, where="cluster %s" % (params["cluster_name"] or client.host), secret=name)
    result = dict(changed=False, cluster_name=params["cluster_name"], secret=name, exists=secret is not None,
                  managed=secret is not None and is_ours(secret), api_requests=client.requests)
    data, reasons = cacerts.inspect(secret, params["namespace"], params["name"], root, params["cluster_name"],
                                    params["renew_before_days"])
    if secret is not None:
        result.update(cacerts.summary(data))
    result.update(valid=not reasons, reasons=list(reasons), reason=pki.explain(reasons))
    if params["crl"] is not None and secret is not None:
        try:
            result.update(cacerts.inspect_revocation(client, data, params["namespace"], params["crl"]))
        except MeshError as exc:
            fail_with(module, exc, client, where="cluster %s" % (params["cluster_name"] or client.host), secret=name)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
