#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ca_root
short_description: Generate or import the mesh's root CA on the controller
version_added: 0.1.0
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
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
- name: Generate the root once, key encrypted
  meshops.multicluster.ca_root:
    path: "{{ inventory_dir }}/mesh-ca"
    passphrase: "{{ vault_mesh_ca_passphrase }}"
  delegate_to: localhost
  run_once: true
  register: root

- name: Use the organisation's root in place
  meshops.multicluster.ca_root:
    cert_file: /secure/org-root.pem
    key_file: /secure/org-root.key
    passphrase: "{{ vault_org_root_passphrase }}"
  delegate_to: localhost
  run_once: true

- name: Trust a second root while rotating
  meshops.multicluster.ca_root:
    path: "{{ inventory_dir }}/mesh-ca"
    bundle:
      - "{{ inventory_dir }}/mesh-ca/next/root-cert.pem"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
cert:
  description: The root certificate (PEM). Null in check mode when the root would be generated.
  returned: success
  type: str
cert_path:
  description: File of the root certificate.
  returned: success
  type: str
key_path:
  description: File of the root key (mode 0600 when written by this module).
  returned: success
  type: str
generated:
  description: Whether a new key was generated (in check mode, would be).
  returned: success
  type: bool
fingerprint:
  description: SHA-256 fingerprint of the root, as C(openssl x509 -fingerprint -sha256) prints it.
  returned: success
  type: str
subject:
  description: Subject of the root.
  returned: success
  type: str
not_after:
  description: Expiry of the root (UTC, ISO 8601).
  returned: success
  type: str
days_left:
  description: Whole days until the root expires.
  returned: success
  type: int
bundle:
  description: The roots clusters trust (this root and O(bundle)), PEM, oldest first.
  returned: success
  type: str
bundle_fingerprints:
  description: Fingerprints of RV(bundle), in order.
  returned: success
  type: list
  elements: str
"""

from ansible_collections.meshops.multicluster.plugins.module_utils._trust import pki
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import fail_with, key_file_module, require_cryptography
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
        ),
        ("key_file",),
        mutually_exclusive=[("cert_file", "cert_content"), ("key_file", "key_content")],
        supports_check_mode=True,
    )
    require_cryptography(module)
    try:
        result, diff = ensure_root(module.params, module.check_mode)
    except MeshError as exc:
        fail_with(module, exc)
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
