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


def intermediate_without_crl_sign(root, cluster_name):
    """cacerts data of an intermediate as the collection issued them before 1.1.0: keyUsage
    without cRLSign, signed by root."""
    issued = pki.issue_intermediate(root, cluster_name, "ec")
    cert = pki.load_certs(("c", "c", issued[pki.CA_CERT].encode()))[0]
    key = pki.load_key(("k", "k", issued[pki.CA_KEY].encode()))
    usage = x509.KeyUsage(True, True, True, False, False, True, False, False, False)
    builder = (x509.CertificateBuilder().subject_name(cert.subject).issuer_name(cert.issuer).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(cert.not_valid_before_utc)
               .not_valid_after(cert.not_valid_after_utc))
    for ext in cert.extensions:
        builder = builder.add_extension(usage if isinstance(ext.value, x509.KeyUsage) else ext.value, ext.critical)
    return pki.cacerts_data(builder.sign(root.key, hashes.SHA256()), issued[pki.CA_KEY], root)
