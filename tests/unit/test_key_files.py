"""Files holding keys: written key first, each fsynced, then its directory (issue #20, finding 12);
key-file options take paths only and no message quotes key content (finding 5)."""

import os

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils import files, pki
from ansible_collections.meshops.multicluster.plugins.module_utils.root_store import ensure_root


def root_params(path, **overrides):
    params = dict(path=str(path), cert_file=None, key_file=None, cert_content=None, key_content=None,
                  passphrase=None, key_type="ec", validity_days=pki.ROOT_VALIDITY_DAYS, common_name="Root CA",
                  organization="Istio", bundle=[], force=False)
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
    assert [kind for kind, _ in disk_calls] == ["fsync", "replace", "fsync-dir"]
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
