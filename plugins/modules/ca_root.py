#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ca_root
short_description: Generate or import the mesh's root CA on the controller
version_added: 1.0.0
description:
  - Ensures the root CA that signs every cluster's intermediate (Istio plug-in CA) exists in O(path)
    as C(root-cert.pem) and C(root-key.pem), following upstream Istio's recipe
    (C(O=Istio, CN=Root CA), C(basicConstraints=critical,CA:true), RSA 4096 or EC P-256, 10 years).
  - Generates it once; later runs load and check it. An existing key is never overwritten unless
    O(force=true).
  - Or imports the organisation's root from files (O(cert_file), O(key_file)) or PEM content
    (O(cert_content), O(key_content)). With O(path) the root is stored there, else the files are
    used in place.
  - The key file is written with mode C(0600), encrypted (PKCS#8) when O(passphrase) is set.
  - The private key is never returned.
  - "Run it on the controller: C(delegate_to: localhost), C(run_once: true)."
options:
  path:
    description:
      - Directory of C(root-cert.pem) and C(root-key.pem); created with mode C(0700) if missing.
      - Required unless O(cert_file) and O(key_file) are given.
    type: path
  cert_file:
    description: Import the root certificate from this PEM file.
    type: path
  key_file:
    description:
      - Import the root key from this PEM file (encrypted with O(passphrase) or not).
      - A path only; key text here is refused, without being shown (give it in O(key_content), which is never logged).
    type: path
  cert_content:
    description: Import the root certificate from this PEM text (needs O(path)).
    type: str
  key_content:
    description: Import the root key from this PEM text (needs O(path)).
    type: str
  passphrase:
    description:
      - Decrypts an encrypted root key, and encrypts the key file written to O(path).
      - Keep it in an ansible-vault encrypted variable.
    type: str
  key_type:
    description: Key of a generated root.
    type: str
    choices: [rsa, ec]
    default: rsa
  validity_days:
    description: Lifetime of a generated root.
    type: int
    default: 3650
  common_name:
    description: Subject CN of a generated root.
    type: str
    default: Root CA
  organization:
    description: Subject O of a generated root.
    type: str
    default: Istio
  bundle:
    description:
      - Further root certificates every cluster trusts besides this root (root rotation), each a
        PEM file path or PEM text. Returned in RV(bundle) with the root, oldest first.
    type: list
    elements: str
    default: []
  force:
    description: Generate a new root, or import a different one, even if O(path) holds a root key.
    type: bool
    default: false
  recertify:
    description:
      - When O(path) holds no root, certify the key of the root in this directory again instead of
        generating a new key - same key and subject, new serial, O(validity_days) from now, the key
        usage of generated roots (so cRLSign). Intermediates and workload certificates issued under the
        old certificate verify against the new one.
      - The installed fleet's way to a root that can sign CRLs, C(next/) of a root rotation
        (C(mesh_ca_rotate_same_key)). The key file in O(path) is written with O(passphrase).
    type: path
    version_added: 1.1.0
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Fingerprints and dates of the root, never the key.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
requirements:
  - cryptography >= 40.0
seealso:
  - module: meshops.multicluster.ca_intermediate
  - module: meshops.multicluster.ca_intermediate_info
  - ref: ansible_collections.meshops.multicluster.docsite.quickstart
    description: The quick start - the root CA and its passphrase in the inventory.
  - ref: ansible_collections.meshops.multicluster.docsite.operations-rotate
    description: Where the root lives, and how to rotate it with O(bundle) without breaking traffic between clusters.
  - ref: ansible_collections.meshops.multicluster.docsite.operations
    description: Keeping the root CA in AWX (a persistent place or the vault).
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
# The trust role generates the root once, on the controller, before any cluster gets an intermediate.
- name: Root CA of the mesh, generated once, key encrypted with a vaulted passphrase
  meshops.multicluster.ca_root:
    path: "{{ inventory_dir }}/mesh-ca"
    passphrase: "{{ vault_mesh_ca_passphrase }}"
    key_type: ec
  delegate_to: localhost
  run_once: true
  register: mesh_root

- name: Show which root the fleet trusts and how long it lasts
  ansible.builtin.debug:
    msg: "root {{ mesh_root.fingerprint }} ({{ mesh_root.subject }}) expires {{ mesh_root.not_after }}, {{ mesh_root.days_left }} days left"
  run_once: true

- name: Sign every cluster's intermediate with it
  meshops.multicluster.ca_intermediate:
    cluster_name: "{{ mesh_cluster_name | default(inventory_hostname) }}"
    root_cert: "{{ mesh_root.cert_path }}"
    root_key: "{{ mesh_root.key_path }}"
    root_passphrase: "{{ vault_mesh_ca_passphrase }}"

# The organisation's root, used where it is (nothing is copied); check mode shows what would be used.
- name: Use the organisation's root in place
  meshops.multicluster.ca_root:
    cert_file: /etc/pki/mesh/org-root.pem
    key_file: /etc/pki/mesh/org-root.key
    passphrase: "{{ vault_org_root_passphrase }}"
  delegate_to: localhost
  run_once: true
  check_mode: true
  diff: true

# Or import it from PEM text held in the vault, and store it under path (key mode 0600).
- name: Import the organisation's root from vaulted PEM text
  meshops.multicluster.ca_root:
    path: "{{ inventory_dir }}/mesh-ca"
    cert_content: "{{ vault_org_root_cert_pem }}"
    key_content: "{{ vault_org_root_key_pem }}"
    passphrase: "{{ vault_mesh_ca_passphrase }}"
  delegate_to: localhost
  run_once: true

# Root rotation, phase add-root: every cluster trusts the current and the next root.
- name: Trust a second root while rotating
  meshops.multicluster.ca_root:
    path: "{{ inventory_dir }}/mesh-ca"
    passphrase: "{{ vault_mesh_ca_passphrase }}"
    bundle:
      - "{{ inventory_dir }}/mesh-ca/next/root-cert.pem"
  delegate_to: localhost
  run_once: true
  register: mesh_root

- name: The roots every cluster will trust, oldest first
  ansible.builtin.debug:
    var: mesh_root.bundle_fingerprints
  run_once: true

# An installed fleet's root lacks cRLSign: certify the same key again in next/ (phase add-root with
# mesh_ca_rotate_same_key), then switch-root and drop-old-root as in any root rotation.
- name: The current root's key, certified again with cRLSign, as the next root
  meshops.multicluster.ca_root:
    path: "{{ inventory_dir }}/mesh-ca/next"
    recertify: "{{ inventory_dir }}/mesh-ca"
    passphrase: "{{ vault_mesh_ca_passphrase }}"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
cert:
  description: The root certificate (PEM). Null in check mode when the root would be generated.
  returned: success
  type: str
  sample: "-----BEGIN CERTIFICATE-----\nMIIFFzCCAv+gAwIBAgIUQ2...\n-----END CERTIFICATE-----\n"
cert_path:
  description: File of the root certificate.
  returned: success
  type: str
  sample: /home/ops/fleet/mesh-ca/root-cert.pem
key_path:
  description: File of the root key (mode 0600 when written by this module).
  returned: success
  type: str
  sample: /home/ops/fleet/mesh-ca/root-key.pem
generated:
  description: Whether a new key was generated (in check mode, would be).
  returned: success
  type: bool
  sample: false
recertified:
  description: Whether the root certificate was made by O(recertify) on this run (in check mode, would be).
  returned: success
  type: bool
  sample: false
  version_added: 1.1.0
fingerprint:
  description: SHA-256 fingerprint of the root, as C(openssl x509 -fingerprint -sha256) prints it.
  returned: success
  type: str
  sample: "5E:0B:7C:91:3A:D2:44:F8:1C:6E:A9:02:B7:53:8D:E1:0F:29:C4:76:9B:E3:12:5A:D8:60:41:AF:3C:97:E5:0D"
subject:
  description: Subject of the root.
  returned: success
  type: str
  sample: CN=Root CA,O=Istio
not_after:
  description: Expiry of the root (UTC, ISO 8601).
  returned: success
  type: str
  sample: "2036-12-04T03:12:45Z"
days_left:
  description: Whole days until the root expires.
  returned: success
  type: int
  sample: 3649
bundle:
  description: The roots clusters trust (this root and O(bundle)), PEM, oldest first.
  returned: success
  type: str
  sample: "-----BEGIN CERTIFICATE-----\nMIIFFzCCAv+gAwIBAgIUQ2...\n-----END CERTIFICATE-----\n"
crl_sign:
  description: Whether the root certificate may sign CRLs (keyUsage cRLSign, or no keyUsage). Generated roots have it.
  returned: success
  type: bool
  sample: true
  version_added: 1.1.0
without_crl_sign:
  description: The certificates of RV(bundle) (subject and fingerprint) that may not sign CRLs.
  returned: success
  type: list
  elements: str
  sample: []
  version_added: 1.1.0
revocation_unavailable:
  description:
    - Empty when every root of RV(bundle) may sign CRLs; else why the mesh cannot revoke intermediate CAs
      with these roots and how to fix it.
  returned: success
  type: str
  sample: ""
  version_added: 1.1.0
bundle_fingerprints:
  description: Fingerprints of RV(bundle), in order.
  returned: success
  type: list
  elements: str
  sample:
    - "5E:0B:7C:91:3A:D2:44:F8:1C:6E:A9:02:B7:53:8D:E1:0F:29:C4:76:9B:E3:12:5A:D8:60:41:AF:3C:97:E5:0D"
    - "A1:47:E2:08:6D:95:3B:C0:7F:14:D9:62:8E:B5:20:4C:F3:0A:97:6B:D1:35:E8:4F:02:AC:59:71:C6:1E:B8:93"
"""

from ansible_collections.meshops.multicluster.plugins.module_utils._trust import pki
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import exit_with_files, key_file_module
from ansible_collections.meshops.multicluster.plugins.module_utils._trust.root_store import ensure_root


def main():
    module = key_file_module(
        dict(
            path=dict(type="path"),
            cert_file=dict(type="path"),
            key_file=dict(type="path", no_log=False),
            cert_content=dict(type="str"),
            key_content=dict(type="str", no_log=True),
            passphrase=dict(type="str", no_log=True),
            key_type=dict(type="str", choices=list(pki.KEY_TYPES), default="rsa"),
            validity_days=dict(type="int", default=pki.ROOT_VALIDITY_DAYS),
            common_name=dict(type="str", default="Root CA"),
            organization=dict(type="str", default="Istio"),
            bundle=dict(type="list", elements="str", default=[]),
            force=dict(type="bool", default=False),
            recertify=dict(type="path"),
        ),
        ("key_file",),
        mutually_exclusive=[("cert_file", "cert_content"), ("key_file", "key_content"),
                            ("recertify", "cert_file", "cert_content")],
        supports_check_mode=True,
    )
    exit_with_files(module, ensure_root)


if __name__ == "__main__":
    main()
