# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ca_root does: keep the mesh's root CA in a directory on the controller (root-cert.pem,
root-key.pem 0600), generated once or imported, never overwritten by accident.

Check mode is decided here, at the writes.
"""

from __future__ import annotations

import os

from ansible_collections.meshops.multicluster.plugins.module_utils._trust import pki
from ansible_collections.meshops.multicluster.plugins.module_utils._common.files import read_file, sync_directory, write_atomic

CERT_NAME = "root-cert.pem"
KEY_NAME = "root-key.pem"


def _imported(params):
    """PEM sources of the root given by cert_file/key_file or content; None when it is generated."""
    cert = params["cert_file"] or params["cert_content"]
    key = params["key_file"] or params["key_content"]
    if not cert and not key:
        return None
    if not (cert and key):
        raise pki.PkiError("cert_file" if key else "key_file", None, "is missing",
                           "both the root certificate (cert_file or cert_content) and its key (key_file or key_content)")
    cert_source = (("cert_content", pki.PEM_CONTENT, params["cert_content"].encode()) if params["cert_content"]
                   else pki.read_source("cert_file", params["cert_file"]))
    key_source = (("key_content", pki.PEM_CONTENT, params["key_content"].encode()) if params["key_content"]
                  else pki.read_key_file("key_file", params["key_file"], "key_content"))
    return cert_source, key_source


class RootStore:
    """root-cert.pem and root-key.pem in one directory."""

    def __init__(self, path):
        self.path = path
        self.cert_path = os.path.join(path, CERT_NAME)
        self.key_path = os.path.join(path, KEY_NAME)
        self.cert_data = read_file(self.cert_path)
        self.key_data = read_file(self.key_path)

    def load(self, passphrase, bundle):
        """The stored root, None when there is none; a half-present pair is an error."""
        if self.cert_data is None and self.key_data is None:
            return None
        if self.cert_data is None or self.key_data is None:
            present, absent = (KEY_NAME, CERT_NAME) if self.cert_data is None else (CERT_NAME, KEY_NAME)
            raise pki.PkiError("path", self.path, "holds %s but no %s" % (present, absent),
                               "both files (restore the missing one), or force: true to replace the root")
        return pki.load_root(("path", self.cert_path, self.cert_data), ("path", self.key_path, self.key_data),
                             passphrase, bundle=bundle)

    def desired_key(self, root, stored, passphrase):
        """The key file to store: the current one when it holds this key with the requested
        encryption (re-encrypting would change it on every run)."""
        if (stored is not None and pki.fingerprint(stored.cert) == pki.fingerprint(root.cert)
                and pki.is_encrypted(self.key_data) == bool(passphrase)):
            return self.key_data
        return pki.key_pem(root.key, passphrase)

    def save(self, cert, key, check_mode):
        """Write what differs and fix the key file's mode; True when something (would have) changed.
        The key goes first (each write fsynced): a crash in between leaves a key without its
        certificate (the next run names it), never a certificate whose key was not saved."""
        writes = [(self.key_path, key, 0o600, self.key_data), (self.cert_path, cert, 0o644, self.cert_data)]
        changed = [(path, data, mode) for path, data, mode, current in writes if data != current]
        loose_mode = key == self.key_data and bool(os.stat(self.key_path).st_mode & 0o077)
        if not check_mode:
            if not os.path.isdir(self.path):
                os.makedirs(self.path, mode=0o700, exist_ok=True)
                sync_directory(os.path.dirname(os.path.abspath(self.path)))
            for path, data, mode in changed:
                write_atomic(path, data, mode)
            if loose_mode:
                os.chmod(self.key_path, 0o600)
        return bool(changed) or loose_mode


def _to_recertify(params):
    """The root of directory `recertify`, whose key the new root certificate certifies again."""
    source = RootStore(params["recertify"]).load(params["passphrase"], ())
    if source is None:
        raise pki.PkiError("recertify", params["recertify"], "holds no root-cert.pem and root-key.pem",
                           "the directory of the root to certify again (mesh_ca_root_dir)")
    return source


def revocation_unavailable(without_crl_sign):
    """Why the mesh cannot revoke intermediates with these roots, said plainly; "" when it can."""
    if not without_crl_sign:
        return ""
    return ("revocation is unavailable: the root certificate(s) %s lack keyUsage cRLSign, so istiod and the proxies "
            "refuse any CRL they sign. Before turning mesh_ca_revocation on, move the fleet to a root with cRLSign: "
            "a generated root's key certified again through the rotation phases (add-root with "
            "mesh_ca_rotate_same_key=true, switch-root, drop-old-root), an imported root re-certified in your PKI "
            "(docs/operations.md#an-installed-fleet-moves-to-crlsign-first)"
            % ", ".join(without_crl_sign))


def ensure_root(params, check_mode):
    """(result, diff) of ensuring the root; raises PkiError on bad input, before writing anything."""
    if not params["path"] and not (params["cert_file"] and params["key_file"]):
        raise pki.PkiError("path", None, "is missing",
                           "a directory for the root (required unless cert_file and key_file are given)")
    imported = _imported(params)
    bundle = [pki.read_source("bundle", item) for item in params["bundle"]]
    store = RootStore(params["path"]) if params["path"] else None
    stored = store.load(params["passphrase"], bundle) if store and not params["force"] else None
    recertified = imported is None and stored is None and bool(params["recertify"])
    generated = imported is None and stored is None and not recertified
    if imported is not None:
        root = pki.load_root(imported[0], imported[1], params["passphrase"], bundle=bundle)
    elif stored is not None:
        root = stored
    elif recertified:
        root = pki.recertify_root(_to_recertify(params), params["validity_days"], bundle=bundle)
    else:
        root = pki.generate_root(params["key_type"], params["validity_days"], params["common_name"],
                                 params["organization"], bundle=bundle)
    changed = generated or recertified
    if store is None:
        cert_path, key_path = imported[0][1], imported[1][1]
    else:
        cert_path, key_path = store.cert_path, store.key_path
        if stored is not None and pki.fingerprint(stored.cert) != pki.fingerprint(root.cert):
            raise pki.PkiError("path", store.key_path, "holds a different root key",
                               "force: true to overwrite it (keep a backup first), or another path")
        key = store.desired_key(root, stored, params["passphrase"])
        changed = store.save(root.cert_pem.encode(), key, check_mode) or changed
    result = root.describe()
    result["revocation_unavailable"] = revocation_unavailable(result["without_crl_sign"])
    result.update(changed=changed, generated=generated, recertified=recertified, cert_path=cert_path, key_path=key_path,
                  cert=None if generated and check_mode else root.cert_pem, bundle=root.bundle_pem)
    shown = ("fingerprint", "subject", "not_after", "bundle_fingerprints")
    diff = {"before": {k: v for k, v in stored.describe().items() if k in shown} if stored else {},
            "after": {k: result[k] for k in shown}}
    return result, diff
