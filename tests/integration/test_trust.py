"""The trust step against the lab's real API servers: one root, an intermediate per cluster.

The tests share one root directory (a temporary one, not the inventory's) and run in file order:
issue, keep, repair, refuse and adopt, secrecy, report, and last the rotations.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils._trust import pki
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import USER_AGENT
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import managed_labels

PASSPHRASE = "integration-passphrase-6d1f"
NS, NAME = "istio-system", "cacerts"
TRUST_OBJECTS = {("secrets", NAME), ("namespaces", NS)}
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}


@pytest.fixture(scope="module")
def root_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("mesh-ca")


@pytest.fixture
def trust(ansible_playbook, root_dir, tmp_path):
    """Run a playbook with the test root directory and passphrase; asserts the outcome.

    The variables go in a file, as a user's vault file would: -vvvv echoes a command line's -e values.
    """
    def run(*args, playbook="trust.yml", ok=True, **extra):
        variables = tmp_path / "trust-vars.json"
        variables.write_text(json.dumps(dict({"mesh_ca_root_dir": str(root_dir), "mesh_ca_root_passphrase": PASSPHRASE},
                                             **extra)))
        result = ansible_playbook(playbook, "-e", "@%s" % variables, *args)
        if ok:
            assert result.rc == 0, result.stdout[-5000:] + result.stderr[-2000:]
        return result
    return run


def flat(result):
    """The run's output with YAML's line folding undone."""
    return " ".join(result.stdout.split())


def cacerts(lab, name):
    secret = lab.client(name).get("Secret", NAME, NS)
    return secret, pki.decode_secret_data(secret)


def fingerprints(pem_text):
    return [pki.fingerprint(cert) for cert in pki.load_certs(("pem", "pem", pem_text.encode()))]


def root_fingerprint(directory):
    return fingerprints((directory / "root-cert.pem").read_text())[0]


def openssl_verify(data, directory, cert=pki.CA_CERT, chain=pki.CERT_CHAIN):
    """`openssl verify -CAfile root-cert.pem -untrusted <chain> <cert>` over the Secret's files."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in data.items():
        (directory / name).write_text(text)
    proc = subprocess.run(["/usr/bin/openssl", "verify", "-CAfile", pki.ROOT_CERT, "-untrusted", chain, cert],
                          cwd=directory, capture_output=True, text=True, check=False)
    return proc.returncode == 0 and proc.stdout.strip() == "%s: OK" % cert


def writes(lab):
    """Write requests of the collection to what this step manages, per cluster. Narrower than
    lab.write_requests(), so that other steps' tests sharing the lab do not count."""
    def ours(event):
        ref = event.get("objectRef") or {}
        return (event.get("verb") in WRITE_VERBS and event.get("userAgent", "").startswith(USER_AGENT)
                and (ref.get("resource"), ref.get("name")) in TRUST_OBJECTS)
    return {name: sum(1 for event in lab.audit_events(name) if ours(event)) for name in lab.names}


def unchanged(result):
    """True when no host reports a change; else prints the run, which pytest shows with the failure."""
    if result.changed:
        print(result.stdout[-6000:])
    return result.changed == 0


def expect_changed(result, lab, changed_hosts):
    """Only changed_hosts report a change (the root on the controller stays as it is)."""
    recap = result.recap
    assert {host for host in lab.names if recap[host]["changed"]} == set(changed_hosts), result.stdout[-5000:]


# --- issue and keep --------------------------------------------------------------------------

def test_trust_issues_one_intermediate_per_cluster_under_one_root(lab, trust, root_dir, tmp_path):
    # earlier tests may have left intermediates of the lab's own root: replacing it is on purpose here
    trust(mesh_ca_allow_new_root=True)
    assert os.stat(root_dir / "root-key.pem").st_mode & 0o777 == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in (root_dir / "root-key.pem").read_bytes()
    root = root_fingerprint(root_dir)
    seen = set()
    for name in lab.names:
        secret, data = cacerts(lab, name)
        assert secret["type"] == "Opaque"
        assert secret["metadata"]["labels"].items() >= managed_labels().items()
        assert openssl_verify(data, tmp_path / name), name
        assert fingerprints(data[pki.ROOT_CERT]) == [root]
        summary = pki.summary(data)
        assert summary["root_fingerprint"] == root
        assert summary["intermediate"]["subject"] == "L=%s,CN=Intermediate CA,O=Istio" % name
        seen.add(summary["intermediate"]["fingerprint"])
    assert len(seen) == len(lab.names)  # every cluster its own intermediate


def test_second_run_changes_nothing_and_writes_nothing(lab, trust):
    trust()
    before = writes(lab)
    result = trust()
    assert unchanged(result)
    assert writes(lab) == before


def test_a_controller_without_the_root_refuses_to_make_another(lab, trust, root_dir, tmp_path):
    before = writes(lab)
    result = trust(ok=False, mesh_ca_root_dir=str(tmp_path / "empty"))
    assert result.rc != 0
    assert "There is no root CA in mesh_ca_root_dir=%s, but %s hold intermediate CAs signed by root %s" % (
        tmp_path / "empty", ", ".join(lab.names), root_fingerprint(root_dir)) in flat(result)
    assert writes(lab) == before and not (tmp_path / "empty").exists()


# --- repair only what is broken --------------------------------------------------------------

def break_cluster(lab, name, how, root_dir):
    client = lab.client(name)
    if how == "missing":
        client.delete("Secret", NAME, NS)
        return
    if how == "wrong root":
        data = pki.issue_intermediate(pki.generate_root("ec"), name, "ec")
    else:  # expiring: same root, 10 days left
        root = pki.load_root(pki.read_source("c", str(root_dir / "root-cert.pem")),
                             pki.read_source("k", str(root_dir / "root-key.pem")), PASSPHRASE)
        data = pki.issue_intermediate(root, name, "ec", validity_days=10)
    client.apply({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                  "metadata": {"name": NAME, "namespace": NS, "labels": managed_labels()},
                  "data": pki.encode_secret_data(data)})


@pytest.mark.parametrize("index, how", [(0, "missing"), (1, "wrong root"), (2, "expiring")])
def test_broken_cacerts_is_repaired_only_there(lab, trust, root_dir, tmp_path, index, how):
    name = lab.names[index % len(lab.names)]
    trust()
    break_cluster(lab, name, how, root_dir)
    broken = cacerts(lab, name)[0]

    before = writes(lab)
    check = trust("--check", "--diff")
    expect_changed(check, lab, [name])
    assert writes(lab) == before and cacerts(lab, name)[0] == broken  # check mode wrote nothing

    result = trust("-v")
    expect_changed(result, lab, [name])
    assert how in flat(result)
    after = writes(lab)
    assert {host for host in lab.names if after[host] != before[host]} == {name}
    data = cacerts(lab, name)[1]
    assert openssl_verify(data, tmp_path)
    assert fingerprints(data[pki.ROOT_CERT]) == [root_fingerprint(root_dir)]
    assert unchanged(trust())


def test_foreign_cacerts_is_refused_then_adopted(lab, trust, root_dir, tmp_path):
    name = lab.names[-1]
    client = lab.client(name)
    client.delete("Secret", NAME, NS)
    foreign = pki.issue_intermediate(pki.generate_root("ec"), name, "ec")
    client.apply({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                  "metadata": {"name": NAME, "namespace": NS}, "data": pki.encode_secret_data(foreign)})

    refused = trust(ok=False)
    assert refused.rc != 0 and refused.recap[name]["failed"] == 1
    assert all(refused.recap[host]["failed"] == 0 for host in lab.names if host != name)
    assert "Secret istio-system/cacerts exists but is not managed by meshops.multicluster" in flat(refused)
    assert cacerts(lab, name)[1] == foreign

    trust("-v", mesh_ca_adopt=True)
    secret, data = cacerts(lab, name)
    assert secret["metadata"]["labels"].items() >= managed_labels().items()
    assert openssl_verify(data, tmp_path)
    assert unchanged(trust())


# --- secrecy ---------------------------------------------------------------------------------

def test_verbose_diff_output_shows_no_key(lab, trust, root_dir):
    result = trust("-vvvv", "--diff", mesh_ca_force_reissue=True)
    output = result.stdout + result.stderr
    assert result.changed >= len(lab.names)
    assert "PRIVATE KEY" not in output
    assert PASSPHRASE not in output
    assert '"ca-key.pem"' not in output  # Secret data is never part of a diff
    assert "root_fingerprints" in output  # the diff shows certificates
    assert os.stat(root_dir / "root-key.pem").st_mode & 0o777 == 0o600


# --- the fleet report ------------------------------------------------------------------------

def test_info_reports_every_cluster_side_by_side(lab, trust, ansible_playbook, root_dir, tmp_path):
    trust()
    playbook = tmp_path / "report.yml"
    playbook.write_text("""
- hosts: mesh_clusters
  gather_facts: false
  module_defaults:
    group/meshops.multicluster.k8s:
      kubeconfig: "{{ mesh_kubeconfig | default(omit) }}"
      context: "{{ mesh_context | default(omit) }}"
  tasks:
    - meshops.multicluster.ca_intermediate_info:
        cluster_name: "{{ mesh_cluster_name | default(inventory_hostname) }}"
        root_cert: "%(root)s/root-cert.pem"
      register: info
    - ansible.builtin.copy:
        content: "{{ info | to_json }}"
        dest: "%(out)s/{{ inventory_hostname }}.json"
        mode: "0644"
      delegate_to: localhost
""" % {"root": root_dir, "out": tmp_path})
    result = ansible_playbook(str(playbook))
    assert result.rc == 0, result.stdout[-4000:]
    reports = {name: json.loads((tmp_path / ("%s.json" % name)).read_text()) for name in lab.names}
    root = root_fingerprint(root_dir)
    for name, report in reports.items():
        assert report["valid"] and report["managed"] and report["reasons"] == []
        assert report["root_fingerprint"] == root
        assert report["intermediate"]["subject"].startswith("L=%s," % name)
        assert report["intermediate"]["days_left"] >= 728
        assert report["api_requests"] == {"read": 1, "write": 0}
        assert "PRIVATE KEY" not in json.dumps(report)
    assert len({r["intermediate"]["serial"] for r in reports.values()}) == len(reports)


# --- rotation --------------------------------------------------------------------------------

def rotate(trust, phase, *args, **extra):
    return trust(*args, playbook="rotate.yml", mesh_ca_rotate_phase=phase, **extra)


def test_rotate_needs_a_phase(trust):
    result = trust(playbook="rotate.yml", ok=False)
    assert result.rc != 0 and "expected one of intermediates, add-root, switch-root, drop-old-root" in flat(result)


def test_rotate_intermediates_reissues_everywhere(lab, trust, root_dir):
    trust()
    before = {name: pki.summary(cacerts(lab, name)[1]) for name in lab.names}
    rotate(trust, "intermediates")
    for name in lab.names:
        after = pki.summary(cacerts(lab, name)[1])
        assert after["intermediate"]["fingerprint"] != before[name]["intermediate"]["fingerprint"]
        assert after["root_fingerprint"] == before[name]["root_fingerprint"]


def test_root_rotation_by_bundle(lab, trust, root_dir, tmp_path):
    trust()
    old = root_fingerprint(root_dir)
    old_cacerts = {name: cacerts(lab, name)[1] for name in lab.names}
    assert unchanged(rotate(trust, "drop-old-root"))  # nothing to drop yet

    # 1. add-root: every cluster trusts old and new, intermediates stay
    rotate(trust, "add-root")
    new = root_fingerprint(root_dir / "next")
    assert os.stat(root_dir / "next" / "root-key.pem").st_mode & 0o777 == 0o600
    for name in lab.names:
        data = cacerts(lab, name)[1]
        assert data[pki.CA_CERT] == old_cacerts[name][pki.CA_CERT]
        assert sorted(fingerprints(data[pki.ROOT_CERT])) == sorted([old, new])
        assert openssl_verify(data, tmp_path / "added" / name)
    assert unchanged(rotate(trust, "add-root"))
    refused = rotate(trust, "drop-old-root", ok=False)
    assert refused.rc != 0 and "run mesh_ca_rotate_phase=switch-root" in flat(refused)

    # 2. switch-root: the new root signs every intermediate; the bundle still trusts the old root
    rotate(trust, "switch-root")
    assert root_fingerprint(root_dir) == new and root_fingerprint(root_dir / "previous") == old
    assert not (root_dir / "next").exists()
    for name in lab.names:
        data = cacerts(lab, name)[1]
        assert pki.summary(data)["root_fingerprint"] == new
        assert sorted(fingerprints(data[pki.ROOT_CERT])) == sorted([old, new])
        assert openssl_verify(data, tmp_path / "switched" / name)
        # a certificate chained to the old root (a cluster not yet switched) is still trusted
        mixed = dict(data, **{"old-cert.pem": old_cacerts[name][pki.CA_CERT],
                              "old-chain.pem": old_cacerts[name][pki.CERT_CHAIN]})
        assert openssl_verify(mixed, tmp_path / "mixed" / name, cert="old-cert.pem", chain="old-chain.pem")
    assert unchanged(rotate(trust, "switch-root"))
    assert unchanged(trust())  # a regular run in the middle of a rotation keeps it where it is

    # 3. drop-old-root: only the new root is trusted; intermediates stay
    switched = {name: cacerts(lab, name)[1] for name in lab.names}
    rotate(trust, "drop-old-root")
    assert not (root_dir / "previous").exists()
    for name in lab.names:
        data = cacerts(lab, name)[1]
        assert data[pki.CA_CERT] == switched[name][pki.CA_CERT]
        assert fingerprints(data[pki.ROOT_CERT]) == [new]
        assert openssl_verify(data, tmp_path / "dropped" / name)
        stale = dict(data, **{"old-cert.pem": old_cacerts[name][pki.CA_CERT],
                              "old-chain.pem": old_cacerts[name][pki.CERT_CHAIN]})
        assert not openssl_verify(stale, tmp_path / "stale" / name, cert="old-cert.pem", chain="old-chain.pem")
    assert unchanged(trust())


# --- removal ---------------------------------------------------------------------------------

def test_state_absent_removes_every_cacerts(lab, trust):
    trust()
    check = trust("--check", mesh_ca_state="absent")
    assert all(cacerts(lab, name)[0] is not None for name in lab.names)
    expect_changed(check, lab, lab.names)
    trust(mesh_ca_state="absent")
    assert all(cacerts(lab, name)[0] is None for name in lab.names)
    assert unchanged(trust(mesh_ca_state="absent"))
