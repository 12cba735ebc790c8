"""The trust modules without a cluster: ca_root entirely, and the input checks that ca_intermediate
and ca_intermediate_info make before they contact any cluster."""

import json
import os
import subprocess
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.meshops.multicluster.plugins.module_utils._trust import pki
from ansible_collections.meshops.multicluster.plugins.modules import ca_intermediate, ca_intermediate_info, ca_root
from tests.unit.trust_certs import root_without_crl_sign

REPO = Path(__file__).resolve().parents[4]
# A kubeconfig that does not exist: a module that got that far would fail with another message.
NO_CLUSTER = {"kubeconfig": "/nonexistent/kubeconfig"}


def run(module, capsys, **args):
    """The module's JSON result; asserts no key material in what it printed."""
    with patch_module_args(dict(args, _ansible_diff=True)), pytest.raises(SystemExit):
        module.main()
    out = capsys.readouterr().out
    assert "PRIVATE KEY" not in out
    return json.loads(out)


@pytest.fixture(scope="module")
def root_files(tmp_path_factory):
    """An EC root stored as ca_root stores it, key encrypted with 'pw'."""
    path = tmp_path_factory.mktemp("root")
    root = pki.generate_root("ec")
    (path / "root-cert.pem").write_text(root.cert_pem)
    (path / "root-key.pem").write_bytes(pki.key_pem(root.key, "pw"))
    return path


def mode(path):
    return os.stat(path).st_mode & 0o777


# --- ca_root ---------------------------------------------------------------------------------

def test_generate_once_then_keep(tmp_path, capsys):
    path = tmp_path / "ca"
    first = run(ca_root, capsys, path=str(path), key_type="ec")
    assert first["changed"] and first["generated"]
    assert mode(path) == 0o700 and mode(path / "root-key.pem") == 0o600
    assert first["cert"] == (path / "root-cert.pem").read_text()
    assert first["bundle_fingerprints"] == [first["fingerprint"]]
    assert first["crl_sign"] and first["revocation_unavailable"] == ""
    assert first["diff"]["before"] == {} and first["diff"]["after"]["fingerprint"] == first["fingerprint"]
    second = run(ca_root, capsys, path=str(path), key_type="ec")
    assert not second["changed"] and not second["generated"]
    assert second["fingerprint"] == first["fingerprint"]


def test_check_mode_writes_nothing(tmp_path, capsys):
    result = run(ca_root, capsys, path=str(tmp_path / "ca"), key_type="ec", _ansible_check_mode=True)
    assert result["changed"] and result["generated"] and result["cert"] is None
    assert not (tmp_path / "ca").exists()


def test_passphrase_encrypts_the_key(tmp_path, capsys):
    path = tmp_path / "ca"
    result = run(ca_root, capsys, path=str(path), key_type="ec", passphrase="s3cret")
    assert b"ENCRYPTED PRIVATE KEY" in (path / "root-key.pem").read_bytes()
    assert "s3cret" not in json.dumps(result)
    assert not run(ca_root, capsys, path=str(path), passphrase="s3cret")["changed"]
    wrong = run(ca_root, capsys, path=str(path), passphrase="nope")
    assert wrong["failed"] and wrong["msg"].startswith("passphrase '********' does not decrypt path")
    missing = run(ca_root, capsys, path=str(path))
    assert missing["failed"] and "is encrypted; expected its passphrase in passphrase" in missing["msg"]


def test_plain_key_gets_encrypted_when_a_passphrase_is_set(tmp_path, capsys):
    path = tmp_path / "ca"
    first = run(ca_root, capsys, path=str(path), key_type="ec")
    again = run(ca_root, capsys, path=str(path), passphrase="later")
    assert again["changed"] and not again["generated"] and again["fingerprint"] == first["fingerprint"]
    assert pki.is_encrypted((path / "root-key.pem").read_bytes())


def test_never_overwrites_a_key_silently(tmp_path, capsys):
    path = tmp_path / "ca"
    first = run(ca_root, capsys, path=str(path), key_type="ec")
    (path / "root-cert.pem").unlink()
    refused = run(ca_root, capsys, path=str(path), key_type="ec")
    assert refused["failed"] and "holds root-key.pem but no root-cert.pem" in refused["msg"]
    forced = run(ca_root, capsys, path=str(path), key_type="ec", force=True)
    assert forced["changed"] and forced["fingerprint"] != first["fingerprint"]
    other = pki.generate_root("ec")
    imported = run(ca_root, capsys, path=str(path), cert_content=other.cert_pem,
                   key_content=pki.key_pem(other.key).decode())
    assert imported["failed"] and "holds a different root key" in imported["msg"]
    assert run(ca_root, capsys, path=str(path), key_type="ec")["fingerprint"] == forced["fingerprint"]


def test_loose_key_mode_is_fixed(tmp_path, capsys):
    path = tmp_path / "ca"
    run(ca_root, capsys, path=str(path), key_type="ec")
    os.chmod(path / "root-key.pem", 0o644)
    assert run(ca_root, capsys, path=str(path))["changed"]
    assert mode(path / "root-key.pem") == 0o600


def test_import_files_in_place(root_files, capsys):
    result = run(ca_root, capsys, cert_file=str(root_files / "root-cert.pem"),
                 key_file=str(root_files / "root-key.pem"), passphrase="pw")
    assert not result["changed"] and result["key_path"] == str(root_files / "root-key.pem")


def test_imported_root_without_crl_sign_is_reported(tmp_path, capsys):
    old = root_without_crl_sign()
    result = run(ca_root, capsys, path=str(tmp_path / "ca"), cert_content=old.cert_pem,
                 key_content=pki.key_pem(old.key).decode())
    assert result["crl_sign"] is False and result["without_crl_sign"] == [
        "CN=Old Root CA (%s)" % pki.fingerprint(old.cert)]
    assert result["revocation_unavailable"].startswith("revocation is unavailable: the root certificate(s) CN=Old Root CA")


def test_recertify_certifies_the_same_key_again_in_next(tmp_path, capsys):
    old = root_without_crl_sign()
    (tmp_path / "root-cert.pem").write_text(old.cert_pem)
    (tmp_path / "root-key.pem").write_bytes(pki.key_pem(old.key, "pw"))
    args = dict(path=str(tmp_path / "next"), recertify=str(tmp_path), passphrase="pw", validity_days=365)
    first = run(ca_root, capsys, **args)
    assert first["changed"] and first["recertified"] and not first["generated"] and first["crl_sign"]
    assert first["subject"] == "CN=Old Root CA" and first["fingerprint"] != pki.fingerprint(old.cert)
    new = pki.load_root(pki.read_source("c", str(tmp_path / "next" / "root-cert.pem")),
                        pki.read_key_file("k", str(tmp_path / "next" / "root-key.pem")), "pw")
    assert pki.key_pem(new.key) == pki.key_pem(old.key) and mode(tmp_path / "next" / "root-key.pem") == 0o600
    again = run(ca_root, capsys, **args)
    assert not again["changed"] and not again["recertified"] and again["fingerprint"] == first["fingerprint"]


def test_recertify_needs_a_root(tmp_path, capsys):
    result = run(ca_root, capsys, path=str(tmp_path / "next"), recertify=str(tmp_path / "none"))
    assert result["failed"] and "recertify" in result["msg"] and "holds no root-cert.pem" in result["msg"]
    assert not (tmp_path / "next").exists()


def test_import_content_into_path(tmp_path, capsys):
    root = pki.generate_root("ec")
    args = dict(path=str(tmp_path / "ca"), cert_content=root.cert_pem, key_content=pki.key_pem(root.key).decode())
    first = run(ca_root, capsys, **args)
    assert first["changed"] and not first["generated"] and first["fingerprint"] == pki.fingerprint(root.cert)
    assert mode(tmp_path / "ca" / "root-key.pem") == 0o600
    assert not run(ca_root, capsys, **args)["changed"]
    assert "invocation" not in first or "BEGIN" not in json.dumps(first["invocation"]["module_args"]["key_content"])


@pytest.mark.parametrize("args, message", [
    (dict(cert_file="/nonexistent/root.pem", key_file="/nonexistent/key.pem"),
     "cert_file '/nonexistent/root.pem' cannot be read"),
    (dict(cert_content="-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n",
          key_content=pki.key_pem(pki.generate_key("ec")).decode().splitlines()[0] + "\nxx\n",
          path="/tmp"), "cert_content '(PEM content)' is not a PEM certificate"),
    (dict(cert_file="/etc/hostname", path="/nonexistent"), "key_file None is missing"),
    (dict(), "path None is missing"),
])
def test_ca_root_bad_input(args, message, capsys):
    result = run(ca_root, capsys, **args)
    assert result["failed"] and result["msg"].startswith(message), result["msg"]


def test_bundle(tmp_path, capsys):
    older = pki.generate_root("ec", now=pki.utcnow() - pki.datetime.timedelta(days=1))
    (tmp_path / "older.pem").write_text(older.cert_pem)
    result = run(ca_root, capsys, path=str(tmp_path / "ca"), key_type="ec", bundle=[str(tmp_path / "older.pem")])
    assert result["bundle_fingerprints"] == [pki.fingerprint(older.cert), result["fingerprint"]]
    assert result["bundle"] == older.cert_pem + result["cert"]


def test_verbose_ad_hoc_run_shows_no_key(tmp_path):
    """-vvvv --diff output of a real ansible run, key given as content, never shows it."""
    root = pki.generate_root("ec")
    args = json.dumps({"path": str(tmp_path / "ca"), "cert_content": root.cert_pem,
                       "key_content": pki.key_pem(root.key).decode(), "passphrase": "pw"})
    proc = subprocess.run([str(REPO / ".venv" / "bin" / "ansible"), "localhost", "-m", "meshops.multicluster.ca_root",
                           "-a", args, "-vvvv", "--diff"], cwd=REPO, capture_output=True, text=True, check=False,
                          env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".cache" / "collections")))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "CHANGED" in proc.stdout
    assert "PRIVATE KEY" not in proc.stdout + proc.stderr
    assert mode(tmp_path / "ca" / "root-key.pem") == 0o600


# --- ca_intermediate / ca_intermediate_info: bad input stops before any cluster ----------------

def intermediate_args(root_files, **overrides):
    args = dict(NO_CLUSTER, cluster_name="east", root_cert=str(root_files / "root-cert.pem"),
                root_key=str(root_files / "root-key.pem"), root_passphrase="pw")
    args.update(overrides)
    return args


@pytest.fixture
def expired_root(tmp_path):
    root = pki.generate_root("ec", validity_days=10, now=pki.utcnow() - pki.datetime.timedelta(days=20))
    (tmp_path / "old.pem").write_text(root.cert_pem)
    (tmp_path / "old.key").write_bytes(pki.key_pem(root.key))
    return tmp_path


@pytest.mark.parametrize("overrides, message", [
    (dict(cluster_name="East_1"), "cluster_name 'East_1' is not a DNS-1123 label"),
    (dict(root_passphrase="wrong"), "root_passphrase '********' does not decrypt root_key"),
    (dict(root_passphrase=None), "root_key '%(root)s/root-key.pem' is encrypted"),
    (dict(root_cert="/etc/hostname"), "root_cert '/etc/hostname' is not a PEM certificate"),
    (dict(validity_days=5000), "validity_days 5000 outlives the root"),
    (dict(renew_before_days=900), "renew_before_days 900 is not below validity_days 730"),
    (dict(root_bundle=["/etc/hostname"]), "root_bundle '/etc/hostname' is not a PEM certificate"),
])
def test_ca_intermediate_bad_input(root_files, capsys, overrides, message):
    result = run(ca_intermediate, capsys, **intermediate_args(root_files, **overrides))
    assert result["failed"]
    assert result["msg"].startswith(message % {"root": root_files}), result["msg"]
    assert "api_requests" not in result


def test_ca_intermediate_rejects_key_of_another_root(root_files, tmp_path, capsys):
    other = pki.generate_root("ec")
    (tmp_path / "other.key").write_bytes(pki.key_pem(other.key))
    result = run(ca_intermediate, capsys, **intermediate_args(root_files, root_key=str(tmp_path / "other.key")))
    assert result["msg"].startswith("root_key '%s' does not match the certificate root_cert" % (tmp_path / "other.key"))


def test_ca_intermediate_rejects_expired_root(expired_root, capsys):
    result = run(ca_intermediate, capsys, **intermediate_args(
        expired_root, root_cert=str(expired_root / "old.pem"), root_key=str(expired_root / "old.key"),
        root_passphrase=None))
    assert "expired on" in result["msg"]


def test_ca_intermediate_absent_checks_name_only(capsys):
    result = run(ca_intermediate, capsys, **dict(NO_CLUSTER, cluster_name="-bad", state="absent"))
    assert result["msg"].startswith("cluster_name '-bad'")
    result = run(ca_intermediate, capsys, **dict(NO_CLUSTER, cluster_name="east", state="absent"))
    assert result["msg"].startswith("cannot read kubeconfig /nonexistent/kubeconfig")


def test_ca_intermediate_info_bad_input(capsys):
    result = run(ca_intermediate_info, capsys, **dict(NO_CLUSTER, root_cert="/nonexistent/root.pem"))
    assert result["msg"].startswith("root_cert '/nonexistent/root.pem' cannot be read")
