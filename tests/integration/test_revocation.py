"""Revocation of a cluster's intermediate CA against the lab's real istiods (issue 24).

One module-scoped run: site.yml with revocation on (every cacerts gets the fleet's ca-crl.pem and
each real istiod publishes it as ConfigMap istio-ca-crl), then the last cluster leaves the inventory
with mesh_ca_revoke_departed: the remaining clusters' CRL lists its intermediate, and
`openssl verify -crl_check_all` of its istiod's serving certificate fails against a remaining
cluster's root and published CRL while another cluster's passes. Then it rejoins (a new, unrevoked
intermediate) and every ordered pair of clusters verifies. Last, revocation is turned off again.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import time

import pytest
import yaml

from ansible_collections.meshops.multicluster.plugins.module_utils._trust import crl, pki

NS = "istio-system"
SECURE_XDS_PORT = 15012


def cacerts(lab, name):
    return pki.decode_secret_data(lab.client(name).get("Secret", "cacerts", NS))


def published(lab, name, namespace=NS):
    configmap = lab.client(name).get("ConfigMap", "istio-ca-crl", namespace) or {}
    return (configmap.get("data") or {}).get(crl.CA_CRL)


def wait_published(lab, names, text, timeout=60):
    deadline = time.monotonic() + timeout
    while any(published(lab, name) != text for name in names) and time.monotonic() < deadline:
        time.sleep(2)
    return {name: published(lab, name) == text for name in names}


def istiod_leaf(lab, name):
    """The serving certificate (PEM) of the cluster's istiod, signed by its intermediate."""
    service = next(s for s in lab.client(name).list("Service", NS) if s["metadata"]["name"] == lab.istiod)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    with socket.create_connection((service["spec"]["clusterIP"], SECURE_XDS_PORT), timeout=10) as sock:
        with context.wrap_socket(sock, server_hostname=f"{lab.istiod}.{NS}.svc") as tls:
            return ssl.DER_cert_to_PEM_cert(tls.getpeercert(binary_form=True))


def openssl_verify(tmp_path, roots, intermediate, leaf, crl_text):
    """`openssl verify -crl_check_all` as a proxy checks a peer: (ok, output)."""
    for file, text in {"roots.pem": roots, "chain.pem": intermediate, "leaf.pem": leaf, "crl.pem": crl_text}.items():
        (tmp_path / file).write_text(text)
    proc = subprocess.run(["/usr/bin/openssl", "verify", "-crl_check_all", "-CAfile", "roots.pem", "-untrusted",
                           "chain.pem", "-CRLfile", "crl.pem", "leaf.pem"], cwd=tmp_path, capture_output=True,
                          text=True, check=False)
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


def find(node, key):
    if isinstance(node, dict):
        if key in node:
            return node[key]
        return next((found for value in node.values() for found in [find(value, key)] if found), None)
    return None


@pytest.fixture(scope="module")
def root_dir(lab):
    """The inventory's root (site.yml's): istiod takes no other root-cert.pem without a restart."""
    return find(yaml.safe_load(open(lab.inventory).read()), "mesh_ca_root_dir")


@pytest.fixture(scope="module")
def revocation_on(lab, ansible_playbook, root_dir):
    started = time.monotonic()
    run = ansible_playbook("site.yml", extra_vars={"mesh_ca_revocation": True})
    assert run.rc == 0, run.stdout[-5000:]
    yield run
    ansible_playbook("trust.yml", extra_vars={"mesh_ca_revocation": False})
    for leftover in (crl.CA_CRL, crl.RECORD_FILE):
        path = "%s/%s" % (root_dir, leftover)
        subprocess.run(["rm", "-f", path], check=False)
    print("test_revocation: %.0f s" % (time.monotonic() - started))


def without(lab, tmp_path, name):
    """A copy of the lab's inventory without one cluster."""
    inventory = yaml.safe_load(open(lab.inventory).read())

    def drop(node):
        if isinstance(node, dict):
            node.pop(name, None)
            for value in node.values():
                drop(value)
    drop(inventory)
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    return str(path)


def test_every_cluster_carries_and_publishes_the_fleet_crl(lab, revocation_on, root_dir):
    fleet = open("%s/%s" % (root_dir, crl.CA_CRL)).read()
    issuers = [item.issuer.rfc4514_string() for item in crl.load_crls("fleet", fleet)]
    assert issuers == ["CN=Root CA,O=Istio"] + ["L=%s,CN=Intermediate CA,O=Istio" % name for name in sorted(lab.names)]
    for name in lab.names:
        assert cacerts(lab, name)[crl.CA_CRL] == fleet
    assert all(wait_published(lab, lab.names, fleet).values())
    assert published(lab, lab.names[0], "default") == fleet  # in every namespace


def test_second_run_changes_nothing(ansible_playbook, revocation_on):
    run = ansible_playbook("trust.yml", extra_vars={"mesh_ca_revocation": True})
    assert run.rc == 0 and run.changed == 0, run.stdout[-3000:]


def test_a_departed_cluster_is_revoked_everywhere_else(lab, ansible_playbook, revocation_on, root_dir, tmp_path):
    gone, first, second = lab.names[-1], lab.names[0], lab.names[1]
    gone_data = cacerts(lab, gone)
    gone_serial = pki.summary(gone_data)["intermediate"]["serial"]
    gone_leaf = istiod_leaf(lab, gone)
    inventory = without(lab, tmp_path, gone)
    run = ansible_playbook("trust.yml", inventory=inventory,
                           extra_vars={"mesh_ca_revocation": True, "mesh_ca_revoke_departed": True})
    assert run.rc == 0, run.stdout[-5000:]
    fleet = open("%s/%s" % (root_dir, crl.CA_CRL)).read()
    root_crl = crl.load_crls("fleet", fleet)[0]
    assert crl.revoked_serials(root_crl) == [gone_serial]
    remaining = [name for name in lab.names if name != gone]
    for name in remaining:
        assert cacerts(lab, name)[crl.CA_CRL] == fleet
    assert all(wait_published(lab, remaining, fleet).values())
    data = cacerts(lab, first)
    ok, output = openssl_verify(tmp_path, data[pki.ROOT_CERT], gone_data[pki.CA_CERT], gone_leaf, published(lab, first))
    assert not ok and ("certificate revoked" in output or "unable to get certificate CRL" in output), output
    ok, output = openssl_verify(tmp_path, data[pki.ROOT_CERT], cacerts(lab, second)[pki.CA_CERT],
                                istiod_leaf(lab, second), published(lab, first))
    assert ok, output
    again = ansible_playbook("trust.yml", inventory=inventory,
                             extra_vars={"mesh_ca_revocation": True, "mesh_ca_revoke_departed": True})
    assert again.rc == 0 and again.changed == 0, again.stdout[-3000:]
    record = json.loads(open("%s/%s" % (root_dir, crl.RECORD_FILE)).read())
    assert record["revoked"][gone_serial]["cluster"] == gone


def test_a_revoked_cluster_that_rejoins_gets_a_new_intermediate(lab, ansible_playbook, revocation_on, root_dir, tmp_path):
    gone = lab.names[-1]
    old_serial = pki.summary(cacerts(lab, gone))["intermediate"]["serial"]
    run = ansible_playbook("trust.yml", extra_vars={"mesh_ca_revocation": True})
    assert run.rc == 0, run.stdout[-5000:]
    new_serial = pki.summary(cacerts(lab, gone))["intermediate"]["serial"]
    assert new_serial != old_serial
    fleet = open("%s/%s" % (root_dir, crl.CA_CRL)).read()
    assert crl.revoked_serials(crl.load_crls("fleet", fleet)[0]) == [old_serial]
    assert all(wait_published(lab, lab.names, fleet).values())
    current = pki.load_certs(("c", "c", cacerts(lab, gone)[pki.CA_CERT].encode()))[0]
    deadline = time.monotonic() + 60  # the rejoined istiod serves from its new intermediate
    while not pki.issued_by(pki.load_certs(("leaf", "leaf", istiod_leaf(lab, gone).encode()))[0], current) \
            and time.monotonic() < deadline:
        time.sleep(2)
    for x in lab.names:
        leaf, intermediate = istiod_leaf(lab, x), cacerts(lab, x)[pki.CA_CERT]
        for y in lab.names:
            ok, output = openssl_verify(tmp_path, cacerts(lab, y)[pki.ROOT_CERT], intermediate, leaf, published(lab, y))
            assert ok, "%s's istiod against %s: %s" % (x, y, output)
