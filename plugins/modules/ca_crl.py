#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ca_crl
short_description: Build the mesh's certificate revocation list (ca-crl.pem) on the controller
version_added: 1.1.0
description:
  - Builds the one C(ca-crl.pem) every cluster's C(cacerts) Secret carries when revocation is on,
    a CRL signed by the root listing the revoked intermediate CAs, followed by one CRL signed by each
    intermediate in service (O(intermediates)). istiod refuses a C(ca-crl.pem) without a CRL signed by
    each certificate of its C(cert-chain.pem), and the proxies refuse a peer's chain when a CA of it has
    no CRL in the file, so every intermediate's CRL is in every cluster's file.
  - CRLs of intermediates no cluster presents any more (replaced by a rotation, or of a cluster that
    left without being revoked) stay in the file until their C(nextUpdate), so that the certificates
    their workloads still hold keep working; a revoked intermediate's CRL leaves the file.
  - Keeps the file and a record of every cluster's current intermediate and of every revocation in
    O(path) (C(ca-crl.pem), C(intermediates.json)), so that a cluster removed from the inventory can be
    revoked by name (O(revoked)) or with O(revoke_departed) because its intermediate was recorded.
  - A CRL is signed again only when what it lists changes or it has fewer than
    O(crl_renew_before_days) days left; the same input gives the same file.
  - "Run it on the controller: C(delegate_to: localhost), C(run_once: true)."
options:
  path:
    description: Directory of the root (the record and the file are kept beside it).
    type: path
    required: true
  root_cert:
    description: PEM file of the root certificate; it must allow cRLSign.
    type: path
    required: true
  root_key:
    description:
      - PEM file of the root key. A path only; key text here is refused, without being shown.
    type: path
    required: true
  root_passphrase:
    description: Passphrase of an encrypted O(root_key).
    type: str
  intermediates:
    description:
      - The results of M(meshops.multicluster.ca_intermediate) with O(meshops.multicluster.ca_intermediate#module:revocation=true),
        one per cluster of this run; each gives C(cluster_name), C(intermediate_cert) (the intermediate the
        cluster will present, PEM) and C(crls) (the PEM CRLs its intermediates signed).
      - Clusters of the inventory that are not in this run keep the CRLs they have in the previous file.
    type: list
    elements: dict
    default: []
  inventory_clusters:
    description:
      - Every cluster of the inventory (the whole group, not only the hosts of this run). A recorded
        cluster missing from it has left the mesh.
    type: list
    elements: str
    required: true
  revoked:
    description:
      - What to revoke, each a name of a recorded cluster that left the inventory, a certificate serial in hex,
        or the SHA-256 fingerprint of a recorded intermediate. Revocations are kept in the record until the
        certificate expires.
    type: list
    elements: str
    default: []
  revoke_departed:
    description: Revoke the current intermediate of every recorded cluster that is no longer in O(inventory_clusters).
    type: bool
    default: false
  revoke_superseded:
    description:
      - Revoke the intermediates a cluster of this run replaced (a rotation, a renewal) and no longer presents,
        once it stopped presenting them at least O(revoke_superseded_after_hours) ago. The record keeps each
        replaced intermediate, and when its successor was promoted (C(moved_at)), until it expires.
    type: bool
    default: false
  revoke_superseded_after_hours:
    description:
      - Hours between the promotion of an intermediate's successor and its revocation by O(revoke_superseded).
        At least the workload certificate lifetime (Istio's default is 24 hours), so that every workload
        certificate it signed has been renewed.
    type: int
    default: 24
  promote:
    description:
      - Whether the staged intermediates of O(intermediates) (C(staged) in their results) are promoted into C(cacerts)
        in this run. Their predecessors then stop being presented now, which starts the wait of
        O(revoke_superseded_after_hours).
    type: bool
    default: false
  other_roots:
    description:
      - Directories of the other roots of a rotation (C(next/), C(previous/) of the root's directory), each holding
        C(root-cert.pem) and C(root-key.pem) (with O(root_passphrase)). Each signs a CRL listing the same revoked
        intermediates, so that the chains ending at either root have their root's CRL while both are trusted.
    type: list
    elements: path
    default: []
  crl_days:
    description: Days between a CRL's C(thisUpdate) and C(nextUpdate).
    type: int
    default: 30
  crl_renew_before_days:
    description: A CRL with fewer days left than this is signed again.
    type: int
    default: 10
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Revoked serials and each CRL's issuer and next update; never a key.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
requirements:
  - cryptography >= 40.0
seealso:
  - module: meshops.multicluster.ca_intermediate
  - module: meshops.multicluster.ca_root
  - ref: ansible_collections.meshops.multicluster.docsite.operations
    description: Revoke a cluster's intermediate CA, and turn revocation on for an installed fleet.
  - ref: ansible_collections.meshops.multicluster.docsite.operations-rotate
    description: The root rotation phases whose roots O(other_roots) names.
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
- name: Each cluster's intermediate, with revocation on (a new one is staged in cacerts-next)
  meshops.multicluster.ca_intermediate:
    cluster_name: "{{ inventory_hostname }}"
    root_cert: "{{ inventory_dir }}/mesh-ca/root-cert.pem"
    root_key: "{{ inventory_dir }}/mesh-ca/root-key.pem"
    revocation: true
  register: mesh_intermediate

- name: The fleet's CRL, revoking the intermediate of every cluster that left the inventory
  meshops.multicluster.ca_crl:
    path: "{{ inventory_dir }}/mesh-ca"
    root_cert: "{{ inventory_dir }}/mesh-ca/root-cert.pem"
    root_key: "{{ inventory_dir }}/mesh-ca/root-key.pem"
    intermediates: "{{ ansible_play_hosts | map('extract', hostvars, 'mesh_intermediate') | list }}"
    inventory_clusters: "{{ groups['mesh_clusters'] }}"
    revoke_departed: true
  delegate_to: localhost
  run_once: true
  register: mesh_crl

- name: What revoking a departed cluster by name would change (serials and dates, no key)
  meshops.multicluster.ca_crl:
    path: "{{ inventory_dir }}/mesh-ca"
    root_cert: "{{ inventory_dir }}/mesh-ca/root-cert.pem"
    root_key: "{{ inventory_dir }}/mesh-ca/root-key.pem"
    root_passphrase: "{{ vault_mesh_ca_passphrase }}"
    inventory_clusters: "{{ groups['mesh_clusters'] }}"
    revoked: [cluster3]
  delegate_to: localhost
  run_once: true
  check_mode: true
  diff: true

- name: Mid-rotation, both roots sign; intermediates replaced more than a day ago are revoked
  meshops.multicluster.ca_crl:
    path: "{{ inventory_dir }}/mesh-ca"
    root_cert: "{{ inventory_dir }}/mesh-ca/root-cert.pem"
    root_key: "{{ inventory_dir }}/mesh-ca/root-key.pem"
    other_roots: ["{{ inventory_dir }}/mesh-ca/previous"]
    intermediates: "{{ ansible_play_hosts | map('extract', hostvars, 'mesh_intermediate') | list }}"
    inventory_clusters: "{{ groups['mesh_clusters'] }}"
    revoke_superseded: true
    revoke_superseded_after_hours: 24
    promote: "{{ ansible_play_hosts | length == groups['mesh_clusters'] | length }}"
  delegate_to: localhost
  run_once: true

- name: Every cluster gets the same ca-crl.pem
  meshops.multicluster.ca_intermediate:
    cluster_name: "{{ inventory_hostname }}"
    root_cert: "{{ inventory_dir }}/mesh-ca/root-cert.pem"
    root_key: "{{ inventory_dir }}/mesh-ca/root-key.pem"
    revocation: true
    crl: "{{ mesh_crl.crl }}"
"""

RETURN = r"""
crl:
  description: The fleet's C(ca-crl.pem) (public CRLs, no key).
  returned: success
  type: str
  sample: "-----BEGIN X509 CRL-----\nMIIBuDCBoQIBATANBgkqhkiG9w0BAQsFADAjMQ4wDAYDVQQKDAVJc3Rpbz...\n-----END X509 CRL-----\n"
crl_path:
  description: Where the controller keeps RV(crl).
  returned: success
  type: str
  sample: /srv/fleet/mesh-ca/ca-crl.pem
record_path:
  description: Where the controller keeps the record of intermediates and revocations.
  returned: success
  type: str
  sample: /srv/fleet/mesh-ca/intermediates.json
revoked:
  description: The revoked intermediates, each with its cluster, serial, fingerprint and when it was revoked.
  returned: success
  type: list
  elements: dict
  sample:
    - cluster: cluster3
      serial: 6003b40d463db9588313aa465ee677b8909b8853
      fingerprint: "5E:0B:7C:91:3A:D2:44:F8:1C:6E:A9:02:B7:53:8D:E1:0F:29:C4:76:9B:E3:12:5A:D8:60:41:AF:3C:97:E5:0D"
      key_id: 1f0c3e0d6c8b0e5f4a2b9c7d6e5f4a3b2c1d0e9f
      not_after: "2028-12-05T09:49:41Z"
      revoked_at: "2026-12-06T10:02:11Z"
superseded:
  description:
    - The intermediates clusters replaced, not revoked and not expired, each with its cluster, serial, fingerprint
      and C(moved_at), when its cluster stopped presenting it (absent while it still does).
  returned: success
  type: list
  elements: dict
  sample:
    - cluster: cluster1
      serial: 2a9f0c1d7e4b3a5968c7d2e1f0a9b8c7d6e5f4a3
      fingerprint: "A1:47:E2:08:6D:95:3B:C0:7F:14:D9:62:8E:B5:20:4C:F3:0A:97:6B:D1:35:E8:4F:02:AC:59:71:C6:1E:B8:93"
      key_id: 9b8c7d6e5f4a3b2c1d0e9f1f0c3e0d6c8b0e5f4a
      not_after: "2028-12-05T09:49:41Z"
      moved_at: "2026-12-06T10:02:11Z"
departed:
  description: Recorded clusters no longer in the inventory whose intermediates are not revoked (O(revoke_departed=false)).
  returned: success
  type: list
  elements: str
  sample: [cluster3]
crls:
  description: Each CRL of RV(crl) - issuer, revoked serials, this and next update, age and days left.
  returned: success
  type: list
  elements: dict
  sample:
    - issuer: CN=Root CA,O=Istio
      revoked: [6003b40d463db9588313aa465ee677b8909b8853]
      this_update: "2026-12-06T09:57:11Z"
      next_update: "2027-01-05T10:02:11Z"
      age_days: 0
      days_left: 29
"""

from ansible_collections.meshops.multicluster.plugins.module_utils._trust import crl
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import exit_with_files, key_file_module
from ansible_collections.meshops.multicluster.plugins.module_utils._trust.crl_store import ensure_fleet_crl


def main():
    module = key_file_module(
        dict(
            path=dict(type="path", required=True),
            root_cert=dict(type="path", required=True),
            root_key=dict(type="path", required=True, no_log=False),
            root_passphrase=dict(type="str", no_log=True),
            intermediates=dict(type="list", elements="dict", default=[]),
            inventory_clusters=dict(type="list", elements="str", required=True),
            revoked=dict(type="list", elements="str", default=[]),
            revoke_departed=dict(type="bool", default=False),
            revoke_superseded=dict(type="bool", default=False),
            revoke_superseded_after_hours=dict(type="int", default=24),
            other_roots=dict(type="list", elements="path", default=[]),
            promote=dict(type="bool", default=False),
            crl_days=dict(type="int", default=crl.CRL_VALIDITY_DAYS),
            crl_renew_before_days=dict(type="int", default=crl.CRL_RENEW_BEFORE_DAYS),
        ),
        ("root_key",),
        supports_check_mode=True,
    )
    exit_with_files(module, ensure_fleet_crl)


if __name__ == "__main__":
    main()
