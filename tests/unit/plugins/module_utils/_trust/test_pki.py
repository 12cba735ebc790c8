"""plugins/module_utils/_trust/pki.py: the root, intermediates and the checks of Secret cacerts."""

import datetime
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from ansible_collections.meshops.multicluster.plugins.module_utils._trust import pki
from tests.unit.trust_certs import root_without_crl_sign

NOW = pki.utcnow()
DAY = datetime.timedelta(days=1)


@pytest.fixture(scope="module")
def root():
    return pki.generate_root("ec")


@pytest.fixture(scope="module")
def other_root():
    return pki.generate_root("ec")


@pytest.fixture(scope="module")
def cacerts(root):
    return pki.issue_intermediate(root, "east", "ec")


def pem(text, field="root_cert"):
    return pki.read_source(field, text)


def error(call, *args, **kwargs):
    with pytest.raises(pki.PkiError) as info:
        call(*args, **kwargs)
    return str(info.value)


def custom_intermediate(root, constraints=x509.BasicConstraints(ca=True, path_length=0), key_cert_sign=True,
                        crl_sign=True):
    """cacerts data whose intermediate has the given extensions, for the constraint checks."""
    key = pki.generate_key("ec")
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.LOCALITY_NAME, "east")]))
               .issuer_name(root.cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(NOW - DAY).not_valid_after(NOW + 365 * DAY))
    if constraints is not None:
        builder = builder.add_extension(constraints, critical=True)
    builder = builder.add_extension(x509.KeyUsage(True, False, False, False, False, key_cert_sign, crl_sign, False, False),
                                    critical=True)
    cert = builder.sign(root.key, hashes.SHA256())
    return pki.cacerts_data(cert, pki.key_pem(key).decode(), root)


def openssl(*args, cwd):
    return subprocess.run(["/usr/bin/openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)


def write_cacerts(data, directory):
    for name, text in data.items():
        (directory / name).write_text(text)


# --- the recipe ------------------------------------------------------------------------------

def test_generated_chain_passes_openssl_verify(tmp_path):
    root = pki.generate_root()  # RSA 4096, the default
    data = pki.issue_intermediate(root, "cluster-1")
    write_cacerts(data, tmp_path)
    verify = openssl("verify", "-CAfile", "root-cert.pem", "-untrusted", "cert-chain.pem", "ca-cert.pem", cwd=tmp_path)
    assert verify.returncode == 0, verify.stderr
    assert "ca-cert.pem: OK" in verify.stdout
    text = openssl("x509", "-in", "ca-cert.pem", "-noout", "-text", cwd=tmp_path).stdout
    assert "CA:TRUE, pathlen:0" in text
    assert "Certificate Sign, CRL Sign" in text
    root_text = openssl("x509", "-in", "root-cert.pem", "-noout", "-text", cwd=tmp_path).stdout
    assert "Certificate Sign, CRL Sign" in root_text
    assert "DNS:istiod.istio-system.svc" in text
    assert "Subject: O = Istio, CN = Intermediate CA, L = cluster-1" in text
    assert "Public-Key: (4096 bit)" in text
    match = openssl("x509", "-in", "ca-cert.pem", "-noout", "-pubkey", cwd=tmp_path).stdout
    assert match == openssl("pkey", "-in", "ca-key.pem", "-pubout", cwd=tmp_path).stdout


def test_root_follows_upstream_recipe(root, tmp_path):
    (tmp_path / "root.pem").write_text(root.cert_pem)
    text = openssl("x509", "-in", "root.pem", "-noout", "-text", cwd=tmp_path).stdout
    assert "CA:TRUE" in text and "critical" in text.split("Basic Constraints")[1].splitlines()[0]
    assert "Subject: O = Istio, CN = Root CA" in text
    assert "prime256v1" in text
    assert 3648 <= pki.days_left(root.cert) <= 3650


def test_fresh_intermediate_is_valid(root, cacerts):
    assert pki.inspect_cacerts(cacerts, root, "east") == {}
    assert pki.inspect_cacerts(cacerts) == {}  # against its own root-cert.pem
    info = pki.summary(cacerts)
    assert info["root_fingerprint"] == pki.fingerprint(root.cert)
    assert info["intermediate"]["subject"] == "L=east,CN=Intermediate CA,O=Istio"
    assert 728 <= info["intermediate"]["days_left"] <= 730
    assert "PRIVATE KEY" not in repr(info)


def test_intermediates_differ_per_issue(root, cacerts):
    again = pki.issue_intermediate(root, "east", "ec")
    assert again[pki.CA_KEY] != cacerts[pki.CA_KEY]
    assert again[pki.ROOT_CERT] == cacerts[pki.ROOT_CERT]


def test_fingerprint_matches_openssl(root, tmp_path):
    (tmp_path / "root.pem").write_text(root.cert_pem)
    out = openssl("x509", "-in", "root.pem", "-noout", "-fingerprint", "-sha256", cwd=tmp_path).stdout
    assert out.strip().split("=", 1)[1] == pki.fingerprint(root.cert)


def test_encrypted_key_round_trip(root, tmp_path):
    encrypted = pki.key_pem(root.key, "s3cret")
    assert b"ENCRYPTED PRIVATE KEY" in encrypted
    (tmp_path / "key.pem").write_bytes(encrypted)
    assert openssl("pkey", "-in", "key.pem", "-passin", "pass:s3cret", "-noout", cwd=tmp_path).returncode == 0
    loaded = pki.load_root(pem(root.cert_pem), pem(encrypted.decode(), "root_key"), "s3cret")
    assert pki.fingerprint(loaded.cert) == pki.fingerprint(root.cert)


# --- bad input -------------------------------------------------------------------------------

def test_malformed_pem_names_field_and_value(tmp_path):
    path = tmp_path / "root.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    message = error(pki.load_root, pki.read_source("root_cert", str(path)))
    assert message.startswith("root_cert %r is not a PEM certificate" % str(path))
    assert "expected" in message


def test_unreadable_file():
    assert "root_key '/nonexistent/key.pem' cannot be read" in error(pki.read_source, "root_key", "/nonexistent/key.pem")


def test_root_that_is_not_a_ca(root):
    key = pki.generate_key("ec")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf")])
    leaf = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(NOW - DAY).not_valid_after(NOW + DAY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    message = error(pki.load_root, pem(pki.certs_pem([leaf])))
    assert "is not a CA certificate" in message and "CA:true" in message


def test_root_with_pathlen_zero_cannot_sign_intermediates(cacerts):
    assert "pathlen:0" in error(pki.load_root, pem(cacerts[pki.CA_CERT]))


def test_key_that_does_not_match_the_root(root, other_root):
    message = error(pki.load_root, pem(root.cert_pem), pem(pki.key_pem(other_root.key).decode(), "root_key"))
    assert message.startswith("root_key '(PEM content)' does not match the certificate root_cert")


def test_wrong_passphrase(root):
    key = pem(pki.key_pem(root.key, "right").decode(), "root_key")
    message = error(pki.load_root, pem(root.cert_pem), key, "wrong", "root_passphrase")
    assert message.startswith("root_passphrase '********' does not decrypt root_key")
    assert "wrong" not in message
    assert "its passphrase in root_passphrase" in error(pki.load_root, pem(root.cert_pem), key, None, "root_passphrase")


def truncated_key_pem():
    """A key PEM cut after its first line: made at test time, never committed."""
    return pki.key_pem(pki.generate_key("ec")).decode().splitlines()[0] + "\nxx\n"


def test_garbage_key():
    assert "is not a PEM private key" in error(pki.load_key, pem(truncated_key_pem(), "root_key"))


def test_expired_and_not_yet_valid_root():
    expired = pki.generate_root("ec", validity_days=10, now=NOW - 20 * DAY)
    assert "expired on" in error(pki.load_root, pem(expired.cert_pem))
    future = pki.generate_root("ec", now=NOW + 2 * DAY)
    assert "is not valid before" in error(pki.load_root, pem(future.cert_pem))


def test_intermediate_outliving_the_root():
    short = pki.generate_root("ec", validity_days=100)
    message = error(pki.check_intermediate_input, short, "east", 730, 30)
    assert message.startswith("validity_days 730 outlives the root")
    assert "at most 99 days" in message
    pki.check_intermediate_input(short, "east", 99, 30)


def test_renew_before_must_be_below_validity(root):
    assert error(pki.check_intermediate_input, root, "east", 30, 30).startswith("renew_before_days 30")
    assert error(pki.check_intermediate_input, root, "east", 0, 0).startswith("validity_days 0")


@pytest.mark.parametrize("name", ["East", "a_b", "-east", "east-", "", "a" * 64, "east.example"])
def test_cluster_name_must_be_a_dns1123_label(root, name):
    assert error(pki.issue_intermediate, root, name, "ec").startswith("cluster_name %r is not a DNS-1123 label" % name)


def test_unknown_key_type():
    assert error(pki.generate_key, "dsa").startswith("key_type 'dsa' is not supported")


# --- why a Secret is re-issued ---------------------------------------------------------------

def test_incomplete_and_malformed(root, cacerts):
    assert list(pki.inspect_cacerts({}, root, "east")) == ["incomplete"]
    assert list(pki.inspect_cacerts(dict(cacerts, **{pki.CA_KEY: ""}), root, "east")) == ["incomplete"]
    assert list(pki.inspect_cacerts(dict(cacerts, **{pki.CA_CERT: "junk"}), root, "east")) == ["malformed"]
    assert pki.summary(dict(cacerts, **{pki.CA_CERT: "junk"})) == {"malformed": True}


def test_wrong_root(root, other_root, cacerts):
    reasons = pki.inspect_cacerts(pki.issue_intermediate(other_root, "east", "ec"), root, "east")
    assert "wrong root" in reasons
    assert pki.fingerprint(root.cert) in reasons["wrong root"]


def test_key_mismatch(root, cacerts):
    other = pki.issue_intermediate(root, "east", "ec")
    assert list(pki.inspect_cacerts(dict(cacerts, **{pki.CA_KEY: other[pki.CA_KEY]}), root, "east")) == ["key mismatch"]


def test_expiring_and_not_yet_valid():
    old_root = pki.generate_root("ec", now=NOW - 800 * DAY)
    data = pki.issue_intermediate(old_root, "east", "ec", validity_days=810, now=NOW - 800 * DAY)
    reasons = pki.inspect_cacerts(data, old_root, "east", renew_before_days=30)
    assert list(reasons) == ["expiring"] and "days left (renew_before_days 30)" in reasons["expiring"]
    assert pki.inspect_cacerts(data, old_root, "east", renew_before_days=5) == {}
    future = pki.issue_intermediate(old_root, "east", "ec", now=NOW + 3 * DAY)
    assert "not yet valid" in pki.inspect_cacerts(future, old_root, "east")


@pytest.mark.parametrize("constraints, key_cert_sign, reason", [
    (None, True, "not a CA"),
    (x509.BasicConstraints(ca=False, path_length=None), True, "not a CA"),
    (x509.BasicConstraints(ca=True, path_length=None), True, "bad pathlen"),
    (x509.BasicConstraints(ca=True, path_length=1), True, "bad pathlen"),
    (x509.BasicConstraints(ca=True, path_length=0), False, "bad key usage"),
])
def test_constraints(root, constraints, key_cert_sign, reason):
    data = custom_intermediate(root, constraints, key_cert_sign)
    assert list(pki.inspect_cacerts(data, root, "east")) == [reason]


def test_wrong_cluster(root, cacerts):
    assert list(pki.inspect_cacerts(cacerts, root, "west")) == ["wrong cluster"]


def test_renew_reissues_for_intermediate_problems(root, other_root, cacerts):
    data = pki.issue_intermediate(other_root, "east", "ec")
    reasons = pki.inspect_cacerts(data, root, "east")
    renewed = pki.renew_cacerts(data, reasons, root, "east", "ec")
    assert renewed[pki.CA_CERT] != data[pki.CA_CERT]
    assert pki.inspect_cacerts(renewed, root, "east") == {}


# --- root bundles (rotation) -----------------------------------------------------------------

def test_bundle_is_canonical(root, other_root):
    old_first = pki.Root(root.cert, root.key, [other_root.cert, root.cert])
    new_first = pki.Root(other_root.cert, other_root.key, [root.cert])
    assert len(old_first.bundle) == 2
    assert old_first.bundle_pem == new_first.bundle_pem


def test_bundle_members_are_checked(root):
    message = error(pki.load_root, pem(root.cert_pem), bundle=[("root_bundle", pki.PEM_CONTENT, b"junk")])
    assert message.startswith("root_bundle '(PEM content)'")
    expired = pki.generate_root("ec", validity_days=1, now=NOW - 5 * DAY)
    assert "expired on" in error(pki.load_root, pem(root.cert_pem), bundle=[pem(expired.cert_pem, "root_bundle")])


def test_rotation_by_bundle(tmp_path):
    old = pki.generate_root("ec", now=NOW - DAY)
    new = pki.generate_root("ec")
    data = pki.issue_intermediate(old, "east", "ec")

    # 1. add the new root everywhere: the intermediate stays, root-cert.pem gains the new root
    adding = pki.Root(old.cert, old.key, [new.cert])
    reasons = pki.inspect_cacerts(data, adding, "east")
    assert list(reasons) == ["root bundle changed"]
    added = pki.renew_cacerts(data, reasons, adding, "east", "ec")
    assert added[pki.CA_CERT] == data[pki.CA_CERT] and added[pki.CA_KEY] == data[pki.CA_KEY]
    assert pki.summary(added)["root_fingerprints"] == [pki.fingerprint(old.cert), pki.fingerprint(new.cert)]

    # 2. re-issue from the new root: root-cert.pem unchanged, the old root still trusted
    switching = pki.Root(new.cert, new.key, [old.cert])
    reasons = pki.inspect_cacerts(added, switching, "east")
    assert "wrong root" in reasons
    switched = pki.renew_cacerts(added, reasons, switching, "east", "ec")
    assert switched[pki.ROOT_CERT] == added[pki.ROOT_CERT]
    assert pki.summary(switched)["root_fingerprint"] == pki.fingerprint(new.cert)
    write_cacerts(switched, tmp_path)
    assert openssl("verify", "-CAfile", "root-cert.pem", "-untrusted", "cert-chain.pem", "ca-cert.pem",
                   cwd=tmp_path).returncode == 0
    # a workload certificate from a not yet re-issued cluster still verifies against the bundle
    (tmp_path / "old.pem").write_text(data[pki.CA_CERT])
    (tmp_path / "old-chain.pem").write_text(data[pki.CERT_CHAIN])
    assert openssl("verify", "-CAfile", "root-cert.pem", "-untrusted", "old-chain.pem", "old.pem",
                   cwd=tmp_path).returncode == 0

    # 3. drop the old root: only root-cert.pem changes
    dropping = pki.Root(new.cert, new.key)
    reasons = pki.inspect_cacerts(switched, dropping, "east")
    assert list(reasons) == ["root bundle changed"]
    dropped = pki.renew_cacerts(switched, reasons, dropping, "east", "ec")
    assert dropped[pki.CA_CERT] == switched[pki.CA_CERT]
    assert pki.inspect_cacerts(dropped, dropping, "east") == {}


def test_secret_data_round_trip(cacerts):
    secret = {"data": pki.encode_secret_data(cacerts)}
    assert pki.decode_secret_data(secret) == cacerts
    assert pki.decode_secret_data(None) == {}


# --- CRL signing -----------------------------------------------------------------------------

def test_generated_cas_can_sign_crls(root, cacerts):
    assert pki.can_sign_crl(root.cert)
    assert pki.can_sign_crl(pki.load_certs(pem(cacerts[pki.CA_CERT]))[0])
    assert root.describe()["crl_sign"] and root.describe()["without_crl_sign"] == []


def test_a_root_without_crl_sign_is_named(root):
    old = root_without_crl_sign()
    assert not pki.can_sign_crl(old.cert)
    assert old.describe()["crl_sign"] is False
    both = pki.Root(root.cert, root.key, [old.cert])
    assert both.describe()["crl_sign"] is True
    assert both.describe()["without_crl_sign"] == ["CN=Old Root CA (%s)" % pki.fingerprint(old.cert)]


def test_a_key_usage_without_crl_sign_cannot_sign_crls(root):
    data = custom_intermediate(root, crl_sign=False)
    assert not pki.can_sign_crl(pki.load_certs(pem(data[pki.CA_CERT]))[0])
