"""Certificates of one lab cluster: its CA, the API server's and the node's (kwok's kubelet server)
serving certs, client certs, SA keys."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=365)

# Client identities: file stem -> (CN, O). Admin is in system:masters; the components get
# the identities their built-in RBAC roles are bound to.
CLIENTS = {
    "admin": ("lab-admin", "system:masters"),
    "controller-manager": ("system:kube-controller-manager", None),
    "scheduler": ("system:kube-scheduler", None),
    "kwok": ("lab-kwok", "system:masters"),
    "agent": ("lab-agent", "system:masters"),
    "coredns": ("lab-coredns", "system:masters"),
    # The API server's identity towards the node's kubelet (kwok's server: port-forward, logs, exec).
    "apiserver-kubelet-client": ("kube-apiserver-kubelet-client", "system:masters"),
}


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _write_key(path: Path, key) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _builder(subject: x509.Name, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALIDITY))


def write_cluster_pki(pki_dir: Path, cluster: str, service_ip: str) -> None:
    """Everything a cluster's components need, written as PEM files into pki_dir."""
    pki_dir.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca_name = _name(f"{cluster}-ca")
    ca = (_builder(ca_name, ca_name, ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    _write_key(pki_dir / "ca.key", ca_key)
    _write_cert(pki_dir / "ca.crt", ca)

    def issue(stem: str, subject: x509.Name, usage, sans=None) -> None:
        key = _key()
        builder = (_builder(subject, ca_name, key.public_key())
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        _write_key(pki_dir / f"{stem}.key", key)
        _write_cert(pki_dir / f"{stem}.crt", builder.sign(ca_key, hashes.SHA256()))

    issue("apiserver", _name("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, [
        x509.DNSName("localhost"), x509.DNSName("kubernetes"), x509.DNSName("kubernetes.default"),
        x509.DNSName("kubernetes.default.svc"), x509.DNSName("kubernetes.default.svc.cluster.local"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(ipaddress.ip_address(service_ip)),
    ])
    # The node's kubelet endpoint (kwok's server on 127.0.0.1, the node's InternalIP), verified by the
    # API server against the cluster CA (--kubelet-certificate-authority).
    issue("kubelet", _name("kubelet"), ExtendedKeyUsageOID.SERVER_AUTH, [
        x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    for stem, (cn, org) in CLIENTS.items():
        issue(stem, _name(cn, org), ExtendedKeyUsageOID.CLIENT_AUTH)

    sa_key = _key()
    _write_key(pki_dir / "sa.key", sa_key)
    (pki_dir / "sa.pub").write_bytes(sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
