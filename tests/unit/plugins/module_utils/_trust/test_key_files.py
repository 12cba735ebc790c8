"""Files holding keys: written key first, each fsynced, then its directory (issue #20, finding 12);
key-file options take paths only and no message quotes key content (finding 5)."""

import os

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils._common import files
from ansible_collections.meshops.multicluster.plugins.module_utils._trust import pki
from ansible_collections.meshops.multicluster.plugins.module_utils._trust.root_store import ensure_root


def root_params(path, **overrides):
    params = dict(path=str(path), cert_file=None, key_file=None, cert_content=None, key_content=None,
                  passphrase=None, key_type="ec", validity_days=pki.ROOT_VALIDITY_DAYS, common_name="Root CA",
                  organization="Istio", bundle=[], force=False, recertify=None)
    return dict(params, **overrides)


@pytest.fixture
def disk_calls(monkeypatch):
    """What reaches the disk, in order: ('fsync', name), ('replace', name), ('fsync-dir', name)."""
    calls = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        path = os.readlink("/proc/self/fd/%d" % fd)
        calls.append(("fsync-dir" if os.path.isdir(path) else "fsync", os.path.basename(path)))
        real_fsync(fd)

    def replace(src, dst):
        calls.append(("replace", os.path.basename(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "fsync", fsync)
    monkeypatch.setattr(files.os, "replace", replace)
    return calls


def test_write_atomic_fsyncs_the_data_before_the_rename_and_the_directory_after(tmp_path, disk_calls):
    files.write_atomic(str(tmp_path / "a.pem"), b"x", mode=0o600)
    assert [call[0] for call in disk_calls] == ["fsync", "replace", "fsync-dir"]
    assert disk_calls[1] == ("replace", "a.pem") and disk_calls[2] == ("fsync-dir", tmp_path.name)
    assert (tmp_path / "a.pem").read_bytes() == b"x" and os.stat(tmp_path / "a.pem").st_mode & 0o777 == 0o600


def test_ca_root_writes_the_key_durably_before_the_certificate(tmp_path, disk_calls):
    ensure_root(root_params(tmp_path / "ca"), check_mode=False)
    replaced = [name for kind, name in disk_calls if kind == "replace"]
    assert replaced == ["root-key.pem", "root-cert.pem"]
    key_done = disk_calls.index(("replace", "root-key.pem")) + 1
    assert disk_calls[key_done] == ("fsync-dir", "ca"), "the key's rename is made durable before the cert is written"
    assert ("fsync-dir", tmp_path.name) in disk_calls, "the new directory itself is made durable"
    assert os.stat(tmp_path / "ca" / "root-key.pem").st_mode & 0o777 == 0o600


# --- key-file options take paths only; key text is refused without being quoted ---------------

REPO = __import__("pathlib").Path(__file__).resolve().parents[5]


def key_body_lines(pem):
    """The base64 lines of a PEM key: any of them in output is key material."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def key_texts():
    key = pki.key_pem(pki.generate_key("ec")).decode()
    return {
        "pem": key,
        "pkcs12-export": "Bag Attributes\n    localKeyID: 01 00 00 00\nKey Attributes: <No Attributes>\n" + key,
        "folded": key.replace("\n", " "),
    }


KEY_TEXTS = key_texts()


@pytest.mark.parametrize("kind", sorted(KEY_TEXTS))
def test_read_key_file_refuses_key_text_without_quoting_it(kind):
    text = KEY_TEXTS[kind]
    with pytest.raises(pki.PkiError) as error:
        pki.read_key_file("key_file", text, "key_content")
    message = str(error.value)
    assert message.startswith("key_file '(key text, not shown)' holds key text, not a path"), message
    assert not any(line in message for line in key_body_lines(KEY_TEXTS["pem"]))
    assert pki.is_pem_text(text)


def test_read_key_file_reads_a_path(tmp_path):
    (tmp_path / "k.pem").write_text(KEY_TEXTS["pem"])
    assert pki.read_key_file("root_key", str(tmp_path / "k.pem")) == (
        "root_key", str(tmp_path / "k.pem"), KEY_TEXTS["pem"].encode())
    assert not pki.is_pem_text(str(tmp_path / "k.pem"))


def test_a_certificate_with_headers_is_text_not_a_path():
    root = pki.generate_root("ec")
    field, value, data = pki.read_source("bundle", "Bag Attributes\n    friendlyName: root\n" + root.cert_pem)
    assert value == pki.PEM_CONTENT and pki.load_certs((field, value, data))[0] == root.cert


def run_verbose(tmp_path, module, args):
    """A real `ansible -vvv` run of a module: (stdout + stderr, the ANSIBLE_LOG_PATH file)."""
    import json
    import subprocess
    log = tmp_path / "ansible.log"
    proc = subprocess.run([str(REPO / ".venv" / "bin" / "ansible"), "localhost", "-m", module, "-a", json.dumps(args),
                           "-vvv"], cwd=REPO, capture_output=True, text=True, check=False,
                          env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".cache" / "collections"),
                                   ANSIBLE_LOG_PATH=str(log)))
    return proc.returncode, proc.stdout + proc.stderr, log.read_text() if log.exists() else ""


@pytest.mark.parametrize("module, option, extra", [
    ("meshops.multicluster.ca_root", "key_file", {"cert_file": "/etc/hostname"}),
    ("meshops.multicluster.ca_intermediate", "root_key",
     {"cluster_name": "east", "root_cert": "/etc/hostname", "kubeconfig": "/nonexistent/kubeconfig"}),
])
@pytest.mark.parametrize("kind", ["pkcs12-export"])  # holds a whole PEM key after its headers
def test_key_text_in_a_key_file_option_is_refused_and_never_shown_at_vvv(tmp_path, module, option, extra, kind):
    rc, output, log = run_verbose(tmp_path, module, dict(extra, **{option: KEY_TEXTS[kind]}))
    assert rc == 2 and "holds key text, not a path" in output, output
    for line in key_body_lines(KEY_TEXTS["pem"]):
        assert line not in output and line not in log


def test_key_text_in_client_key_is_refused_and_never_shown_at_vvv(tmp_path):
    rc, output, log = run_verbose(tmp_path, "meshops.multicluster.mesh_services_info",
                                  {"host": "https://127.0.0.1:1", "client_key": KEY_TEXTS["pkcs12-export"]})
    assert rc == 2 and "client_key '(key text, not shown)' holds key text, not a path" in output, output
    for line in key_body_lines(KEY_TEXTS["pem"]):
        assert line not in output and line not in log


@pytest.mark.parametrize("option", ["root_key", "client_key"])
def test_key_text_never_reaches_the_invocation_log(monkeypatch, option):
    # AnsibleModule writes its arguments to syslog or the journal as it starts, before the module
    # can refuse them: an option given key text must be no_log by then; a path stays visible.
    from ansible.module_utils import basic
    from ansible.module_utils.testing import patch_module_args
    from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import k8s_module

    logged = []
    monkeypatch.setattr(basic.AnsibleModule, "log", lambda self, msg, log_args=None: logged.append(msg))
    for value, shown in ((KEY_TEXTS["pkcs12-export"], False), ("/etc/mesh/client-key.pem", True)):
        logged.clear()
        with patch_module_args({option: value}):
            k8s_module({"root_key": {"type": "path", "no_log": False}},
                       key_file_options=("root_key",) if option == "root_key" else ())
        invocation = " ".join(logged)
        assert ("/etc/mesh/client-key.pem" in invocation) is shown, invocation
        assert not any(line in invocation for line in key_body_lines(KEY_TEXTS["pem"])), invocation
