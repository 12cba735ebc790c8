"""Certificates the trust step's unit tests share that the collection itself never makes."""

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from ansible_collections.meshops.multicluster.plugins.module_utils._trust import pki

DAY = datetime.timedelta(days=1)


def root_without_crl_sign(common_name="Old Root CA"):
    """A self-signed CA as the collection made them before 1.1.0 (and as upstream's recipe does):
    keyUsage without cRLSign."""
    now = pki.utcnow()
    key = pki.generate_key("ec")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - DAY).not_valid_after(now + 365 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, True, True, False, False, True, False, False, False), critical=True)
            .sign(key, hashes.SHA256()))
    return pki.Root(cert, key)
