# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mesh's PKI: a root CA and one Istio plug-in CA (intermediate) per cluster.

Pure functions over the cryptography library, importable without Ansible or Kubernetes. The
recipe is upstream Istio's (tools/certs/Makefile.selfsigned.mk): root O=Istio, CN=Root CA,
CA:true critical; intermediate O=Istio, CN=Intermediate CA, L=<cluster>, CA:true, pathlen:0,
keyCertSign, SAN DNS:istiod.<namespace>.svc; both also get cRLSign (upstream's recipe lacks it), so that
they can sign the CRLs of ca-crl.pem (crl.py): istiod and openssl refuse a CRL whose issuer's keyUsage
lacks it. Bad input raises PkiError naming the field, the
value and what is expected; no message, summary or reason ever carries key material.
"""

from __future__ import annotations

import base64
import datetime

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as exc:  # reported by the module through missing_required_lib
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = exc

from ansible_collections.meshops.multicluster.plugins.module_utils._common.validation import LABEL_RULE, label_error
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import ISTIO_NAMESPACE
from ansible_collections.meshops.multicluster.plugins.module_utils._common.redaction import KEY_TEXT, is_pem_text

CA_CERT, CA_KEY, ROOT_CERT, CERT_CHAIN = "ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem"
CACERTS_KEYS = (CA_CERT, CA_KEY, ROOT_CERT, CERT_CHAIN)
KEY_TYPES = ("rsa", "ec")
RSA_BITS = 4096
ROOT_VALIDITY_DAYS = 3650
INTERMEDIATE_VALIDITY_DAYS = 730
RENEW_BEFORE_DAYS = 30
CLOCK_SKEW = datetime.timedelta(minutes=5)
PEM_CONTENT = "(PEM content)"

# Reasons that keep the intermediate: only root-cert.pem, cert-chain.pem or the labels are rewritten.
KEEP_INTERMEDIATE = frozenset(("root bundle changed", "chain mismatch", "adopted", "crl removed"))


class PkiError(MeshError, ValueError):
    """Bad input: names the field, its value and what is expected."""

    def __init__(self, field, value, problem, expected):
        super().__init__("%s %r %s; expected %s" % (field, value, problem, expected))
        self.field = field


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(when):
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- reading ---------------------------------------------------------------------------------

def read_source(field, item):
    """(field, value, bytes) of a PEM given inline or as a file path."""
    if is_pem_text(item):
        return field, PEM_CONTENT, item.encode()
    try:
        with open(item, "rb") as handle:
            return field, item, handle.read()
    except OSError as exc:
        raise PkiError(field, item, "cannot be read (%s)" % (exc.strerror or exc), "a readable PEM file")


def read_key_file(field, path, content_option=None):
    """(field, path, bytes) of a private key file. Key text in a path option is refused, never
    quoted: options holding paths are not no_log (their paths appear in results and messages)."""
    if is_pem_text(path):
        raise PkiError(field, KEY_TEXT, "holds key text, not a path",
                       "the path of a PEM key file on the controller%s"
                       % (" (or the key text in %s, which is never logged)" % content_option if content_option else ""))
    return read_source(field, path)


def load_certs(source):
    """Every certificate of a PEM source (at least one)."""
    field, value, data = source
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise PkiError(field, value, "is not a PEM certificate", "one or more '-----BEGIN CERTIFICATE-----' blocks")


def is_encrypted(data):
    return b"ENCRYPTED" in data


def load_key(source, passphrase=None, passphrase_field="passphrase"):
    """An RSA or EC private key; an encrypted one needs its passphrase (ignored for plain keys)."""
    field, value, data = source
    encrypted = is_encrypted(data)
    if encrypted and not passphrase:
        raise PkiError(field, value, "is encrypted", "its passphrase in %s" % passphrase_field)
    try:
        # RSA validation costs ~0.5 s per 4096-bit key on every run; a key that does not match its
        # certificate is caught by the public-key comparison, and a fresh signature is verified.
        key = serialization.load_pem_private_key(data, password=passphrase.encode() if encrypted else None,
                                                 unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        if encrypted:
            raise PkiError(passphrase_field, "********", "does not decrypt %s %s" % (field, value),
                           "the passphrase the key was encrypted with")
        raise PkiError(field, value, "is not a PEM private key", "an RSA or EC private key in PEM")
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise PkiError(field, value, "is a %s key" % type(key).__name__, "an RSA or EC private key")
    return key


def _public(key_or_cert):
    return key_or_cert.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)


def _extension(cert, kind):
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def issued_by(cert, issuer):
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


# --- describing ------------------------------------------------------------------------------

def fingerprint(cert):
    """SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def _fingerprints(certs):
    return ", ".join(fingerprint(cert) for cert in certs)


def days_left(cert, now=None):
    return (cert.not_valid_after_utc - (now or utcnow())).days


def describe(cert, now=None):
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "x"),
        "fingerprint": fingerprint(cert),
        "not_before": iso(cert.not_valid_before_utc),
        "not_after": iso(cert.not_valid_after_utc),
        "days_left": days_left(cert, now),
    }


def summary(data, now=None):
    """What a cacerts data dict holds, for results and diffs: certificates only, never the key."""
    try:
        cert = load_certs((CA_CERT, CA_CERT, data[CA_CERT].encode()))[0]
        roots = load_certs((ROOT_CERT, ROOT_CERT, data[ROOT_CERT].encode()))
    except (KeyError, PkiError):
        return {"malformed": True}
    signer = next((root for root in roots if issued_by(cert, root)), None)
    return {
        "intermediate": describe(cert, now),
        "root_fingerprint": fingerprint(signer) if signer else None,
        "root_fingerprints": [fingerprint(root) for root in roots],
    }


# --- the root --------------------------------------------------------------------------------

def bundle_of(certs):
    """Distinct certificates, oldest first: the same set always gives the same root-cert.pem."""
    unique = {fingerprint(cert): cert for cert in certs}
    return sorted(unique.values(), key=lambda cert: (cert.not_valid_before_utc, fingerprint(cert)))


def certs_pem(certs):
    return "".join(cert.public_bytes(serialization.Encoding.PEM).decode() for cert in certs)


class Root:
    """The signing root (with its key when it signs) and the roots every cluster trusts."""

    def __init__(self, cert, key=None, extra=()):
        self.cert = cert
        self.key = key
        self.bundle = bundle_of([cert, *extra])

    @property
    def cert_pem(self):
        return certs_pem([self.cert])

    @property
    def bundle_pem(self):
        return certs_pem(self.bundle)

    def describe(self, now=None):
        info = describe(self.cert, now)
        info["bundle_fingerprints"] = [fingerprint(cert) for cert in self.bundle]
        info["crl_sign"] = can_sign_crl(self.cert)
        info["without_crl_sign"] = without_crl_sign(self.bundle)
        return info


def can_sign_crl(cert):
    """Whether cert may sign a CRL: Go's CheckSignatureFrom (istiod) and openssl both refuse a CRL
    whose issuer has a keyUsage without cRLSign; no keyUsage at all allows every use."""
    usage = _extension(cert, x509.KeyUsage)
    return usage is None or usage.crl_sign


def without_crl_sign(certs):
    """The certificates of certs that cannot sign CRLs, described for a report (revocation is
    unavailable while any CA of the mesh's chains is among them)."""
    return ["%s (%s)" % (cert.subject.rfc4514_string(), fingerprint(cert)) for cert in certs if not can_sign_crl(cert)]


def check_ca(cert, field, value, now=None):
    """A root that may sign intermediate CAs, valid now."""
    now = now or utcnow()
    constraints = _extension(cert, x509.BasicConstraints)
    if constraints is None or not constraints.ca:
        raise PkiError(field, value, "is not a CA certificate (%s)" % cert.subject.rfc4514_string(),
                       "a CA certificate (basicConstraints CA:true)")
    if constraints.path_length == 0:
        raise PkiError(field, value, "has pathlen:0 and cannot sign intermediate CAs",
                       "a root CA without pathlen:0")
    usage = _extension(cert, x509.KeyUsage)
    if usage is not None and not usage.key_cert_sign:
        raise PkiError(field, value, "lacks keyUsage keyCertSign", "a CA certificate allowed to sign certificates")
    if cert.not_valid_after_utc <= now:
        raise PkiError(field, value, "expired on %s" % iso(cert.not_valid_after_utc), "a certificate valid now")
    if cert.not_valid_before_utc > now:
        raise PkiError(field, value, "is not valid before %s" % iso(cert.not_valid_before_utc),
                       "a certificate valid now")


def load_root(cert_source, key_source=None, passphrase=None, passphrase_field="passphrase", bundle=(), now=None):
    """The root from PEM sources (see read_source), checked; the key is optional for inspection only."""
    cert = load_certs(cert_source)[0]
    check_ca(cert, *cert_source[:2], now=now)
    key = None
    if key_source is not None:
        key = load_key(key_source, passphrase, passphrase_field)
        if _public(key) != _public(cert):
            raise PkiError(key_source[0], key_source[1], "does not match the certificate %s %r" % cert_source[:2],
                           "the private key of that certificate")
    return Root(cert, key, load_bundle(bundle, now))


def load_bundle(sources, now=None):
    """Further roots to trust (root rotation), each checked like the root."""
    extra = []
    for source in sources:
        for cert in load_certs(source):
            check_ca(cert, *source[:2], now=now)
            extra.append(cert)
    return extra


def generate_key(key_type="rsa"):
    if key_type not in KEY_TYPES:
        raise PkiError("key_type", key_type, "is not supported", "one of %s" % ", ".join(KEY_TYPES))
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)


def key_pem(key, passphrase=None):
    """PKCS#8 PEM, encrypted when a passphrase is given."""
    encryption = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
                  else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def _name(*attributes):
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


def _ca_certificate(subject, public_key, issuer, signing_key, not_before, not_after, path_length, san=None):
    """A CA certificate with upstream Istio's extensions; issuer None means self-signed."""
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer.subject if issuer else subject)
               .public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before)
               .not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=True,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()), critical=False)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def check_days(field, days, minimum=1):
    if not isinstance(days, int) or days < minimum:
        raise PkiError(field, days, "is not a number of days", "an integer of at least %d" % minimum)


def generate_root(key_type="rsa", validity_days=ROOT_VALIDITY_DAYS, common_name="Root CA", organization="Istio",
                  bundle=(), now=None):
    """A new self-signed root (trusting the roots of bundle too)."""
    check_days("validity_days", validity_days)
    now = now or utcnow()
    extra = load_bundle(bundle, now)
    key = generate_key(key_type)
    subject = _name((NameOID.ORGANIZATION_NAME, organization), (NameOID.COMMON_NAME, common_name))
    cert = _ca_certificate(subject, key.public_key(), None, key, now - CLOCK_SKEW,
                           now + datetime.timedelta(days=validity_days), None)
    return Root(cert, key, extra)


def recertify_root(root, validity_days=ROOT_VALIDITY_DAYS, bundle=(), now=None):
    """The same key and subject certified again, as generate_root certifies (so with cRLSign), new
    serial and dates: a chain issued under the old certificate verifies against the new one, since a
    verifier matches an issuer by subject and signature. The way to cRLSign for an installed fleet."""
    check_days("validity_days", validity_days)
    now = now or utcnow()
    extra = load_bundle(bundle, now)
    cert = _ca_certificate(root.cert.subject, root.key.public_key(), None, root.key, now - CLOCK_SKEW,
                           now + datetime.timedelta(days=validity_days), None)
    return Root(cert, root.key, extra)


# --- intermediates ---------------------------------------------------------------------------

def check_cluster_name(name):
    if label_error(name):
        raise PkiError("cluster_name", name, "is not a DNS-1123 label", LABEL_RULE)


def check_intermediate_input(root, cluster_name, validity_days, renew_before_days, now=None):
    """Everything ca_intermediate checks before it talks to a cluster."""
    check_cluster_name(cluster_name)
    check_days("validity_days", validity_days)
    check_days("renew_before_days", renew_before_days, minimum=0)
    if renew_before_days >= validity_days:
        raise PkiError("renew_before_days", renew_before_days, "is not below validity_days %d" % validity_days,
                       "fewer days than validity_days, or every run would re-issue")
    remaining = days_left(root.cert, now)
    if validity_days > remaining:
        raise PkiError("validity_days", validity_days, "outlives the root (it expires on %s)"
                       % iso(root.cert.not_valid_after_utc),
                       "at most %d days, the root's remaining life (or rotate the root first)" % remaining)


def cacerts_data(cert, key_text, root):
    """The four files of Secret cacerts: cert-chain.pem is intermediate + signing root."""
    return {
        CA_CERT: certs_pem([cert]),
        CA_KEY: key_text,
        ROOT_CERT: root.bundle_pem,
        CERT_CHAIN: certs_pem([cert, root.cert]),
    }


def istiod_san(namespace=ISTIO_NAMESPACE):
    """The DNS name of istiod in its namespace, the intermediate's SAN (Istio's recipe)."""
    return "istiod.%s.svc" % namespace


def issue_intermediate(root, cluster_name, key_type="rsa", validity_days=INTERMEDIATE_VALIDITY_DAYS, now=None,
                       namespace=ISTIO_NAMESPACE):
    """cacerts data for one cluster: a fresh key (in memory only) signed by root.key, for the
    istiod of `namespace`."""
    check_cluster_name(cluster_name)
    now = now or utcnow()
    key = generate_key(key_type)
    subject = _name((NameOID.ORGANIZATION_NAME, "Istio"), (NameOID.COMMON_NAME, "Intermediate CA"),
                    (NameOID.LOCALITY_NAME, cluster_name))
    not_before = max(now - CLOCK_SKEW, root.cert.not_valid_before_utc)
    cert = _ca_certificate(subject, key.public_key(), root.cert, root.key, not_before,
                           now + datetime.timedelta(days=validity_days), 0, san=istiod_san(namespace))
    if not issued_by(cert, root.cert):
        raise PkiError("root_key", "********", "produced a signature that the root certificate does not verify",
                       "a consistent private key of the root certificate")
    return cacerts_data(cert, key_pem(key).decode(), root)


def _locality(cert):
    values = cert.subject.get_attributes_for_oid(NameOID.LOCALITY_NAME)
    return values[0].value if values else None


def inspect_cacerts(data, root=None, cluster_name=None, renew_before_days=RENEW_BEFORE_DAYS, now=None):
    """Why cacerts data must change, {reason: detail}; {} when it is valid.

    Valid: the intermediate is a CA with pathlen:0 and keyCertSign, its key matches, it was
    issued by root (or, without a root, by a root of its own root-cert.pem), names the cluster,
    is valid now and not within renew_before_days of expiry; root-cert.pem is root's bundle and
    cert-chain.pem is intermediate + root.
    """
    now = now or utcnow()
    absent = [name for name in CACERTS_KEYS if not data.get(name)]
    if absent:
        return {"incomplete": "no %s" % ", ".join(absent)}
    try:
        cert = load_certs((CA_CERT, CA_CERT, data[CA_CERT].encode()))[0]
        key = load_key((CA_KEY, CA_KEY, data[CA_KEY].encode()))
        roots = load_certs((ROOT_CERT, ROOT_CERT, data[ROOT_CERT].encode()))
        chain = load_certs((CERT_CHAIN, CERT_CHAIN, data[CERT_CHAIN].encode()))
    except PkiError as exc:
        return {"malformed": "%s is not valid PEM" % exc.field}
    reasons = {}
    constraints = _extension(cert, x509.BasicConstraints)
    if constraints is None or not constraints.ca:
        reasons["not a CA"] = "ca-cert.pem lacks basicConstraints CA:true"
    elif constraints.path_length != 0:
        reasons["bad pathlen"] = "pathlen %s, expected 0" % constraints.path_length
    usage = _extension(cert, x509.KeyUsage)
    if usage is None or not usage.key_cert_sign:
        reasons["bad key usage"] = "keyUsage lacks keyCertSign"
    if _public(key) != _public(cert):
        reasons["key mismatch"] = "ca-key.pem is not the key of ca-cert.pem"
    signers = [root.cert] if root else roots
    if not any(issued_by(cert, signer) for signer in signers):
        reasons["wrong root"] = "issued by %s, not by %s" % (cert.issuer.rfc4514_string(), _fingerprints(signers))
    if cert.not_valid_before_utc > now:
        reasons["not yet valid"] = "not before %s" % iso(cert.not_valid_before_utc)
    left = days_left(cert, now)
    if left < renew_before_days:
        reasons["expiring"] = "not after %s, %d days left (renew_before_days %d)" % (
            iso(cert.not_valid_after_utc), left, renew_before_days)
    if root is not None and can_sign_crl(root.cert) and not can_sign_crl(cert):
        # A root with cRLSign (generated since 1.1.0, or re-certified): its intermediates must be
        # able to sign their CRLs too before revocation can be turned on.
        reasons["no crl sign"] = "the intermediate's keyUsage lacks cRLSign, the root's has it"
    if cluster_name is not None and _locality(cert) != cluster_name:
        reasons["wrong cluster"] = "subject L=%s, expected L=%s" % (_locality(cert), cluster_name)
    if root is not None:
        if _fingerprints(roots) != _fingerprints(root.bundle):
            reasons["root bundle changed"] = "root-cert.pem holds %s, expected %s" % (
                _fingerprints(roots), _fingerprints(root.bundle))
        if _fingerprints(chain) != _fingerprints([cert, root.cert]):
            reasons["chain mismatch"] = "cert-chain.pem is not ca-cert.pem + the root"
    return reasons


def renew_cacerts(data, reasons, root, cluster_name, key_type="rsa", validity_days=INTERMEDIATE_VALIDITY_DAYS,
                  now=None, namespace=ISTIO_NAMESPACE):
    """The data to write for these reasons: the same intermediate with fresh root files when only
    those are off, else a new intermediate."""
    if reasons and set(reasons) <= KEEP_INTERMEDIATE:
        cert = load_certs((CA_CERT, CA_CERT, data[CA_CERT].encode()))[0]
        return cacerts_data(cert, data[CA_KEY], root)
    return issue_intermediate(root, cluster_name, key_type, validity_days, now, namespace)


def explain(reasons):
    return "; ".join("%s: %s" % item for item in reasons.items())


# --- Secret data -----------------------------------------------------------------------------

def decode_secret_data(secret):
    return {name: base64.b64decode(value).decode("utf-8", "replace")
            for name, value in ((secret or {}).get("data") or {}).items()}


def encode_secret_data(data):
    return {name: base64.b64encode(text.encode()).decode() for name, text in data.items()}
