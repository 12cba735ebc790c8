"""Revocation of a cluster's intermediate CA against the lab's real istiods (issue 24).

Five playbook runs in order, each serving several assertions (the tests depend on their order):
1. site.yml with revocation on: every cacerts gets the fleet's ca-crl.pem and each real istiod
   publishes it as ConfigMap istio-ca-crl, in every namespace.
2. trust.yml without the last cluster, mesh_ca_revoke_departed: the remaining clusters' CRL lists
   its intermediate; `openssl verify -crl_check_all` of its istiod's serving certificate fails
   against a remaining cluster's root and published CRL while another cluster's passes.
3. the same again changes nothing (so a run with revocation on is idempotent).
4. verify.yml after one cluster's ca-crl.pem was removed and another's root CRL expired: the fleet
   check fails exactly those clusters' Intermediate CA check, naming the fix (trust.yml).
5. trust.yml with the whole inventory and longer CRLs (mesh_ca_crl_days 60, renew before 45, so
   every 30-day CRL is near expiry): the departed cluster rejoins with a new intermediate that is
   not revoked, every CRL is renewed, the broken files are repaired, and every ordered pair of
   clusters verifies.
Afterwards the fixture takes ca-crl.pem and cacerts-next out of every cluster through the API (what
trust.yml with revocation off writes) instead of another playbook run.
"""

from __future__ import annotations

import base64
import datetime
import json
import socket
import ssl
import subprocess
import threading
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


def revocation_off(lab, root_dir):
    """What trust.yml with mesh_ca_revocation=false leaves (ca-crl.pem out of every cacerts, no
    cacerts-next, the controller's files gone), written through the API: a playbook run less."""
    for name in lab.names:
        client = lab.client(name)
        secret = client.get("Secret", "cacerts", NS)
        if secret and crl.CA_CRL in (secret.get("data") or {}):
            del secret["data"][crl.CA_CRL]
            client.request("PUT", "/api/v1/namespaces/%s/secrets/cacerts" % NS, body=json.dumps(secret))
        if client.get("Secret", "cacerts-next", NS):
            client.delete("Secret", "cacerts-next", NS)
    for leftover in (crl.CA_CRL, crl.RECORD_FILE):
        subprocess.run(["rm", "-f", "%s/%s" % (root_dir, leftover)], check=False)


@pytest.fixture(scope="module")
def revocation_on(lab, ansible_playbook, root_dir):
    started = time.monotonic()
    run = ansible_playbook("site.yml", extra_vars={"mesh_ca_revocation": True})
    assert run.rc == 0, run.stdout[-5000:]
    yield run
    revocation_off(lab, root_dir)
    print("test_revocation: %.0f s" % (time.monotonic() - started))


@pytest.fixture(scope="module")
def departed_inventory(lab, tmp_path_factory):
    """The lab's inventory without its last cluster."""
    return without(lab, tmp_path_factory.mktemp("departed"), lab.names[-1])


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


DEPARTED = {"mesh_ca_revocation": True, "mesh_ca_revoke_departed": True}


def test_a_departed_cluster_is_revoked_everywhere_else(lab, ansible_playbook, revocation_on, root_dir,
                                                       departed_inventory, tmp_path):
    gone, first, second = lab.names[-1], lab.names[0], lab.names[1]
    gone_data = cacerts(lab, gone)
    gone_serial = pki.summary(gone_data)["intermediate"]["serial"]
    gone_leaf = istiod_leaf(lab, gone)
    run = ansible_playbook("trust.yml", inventory=departed_inventory, extra_vars=DEPARTED)
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
    record = json.loads(open("%s/%s" % (root_dir, crl.RECORD_FILE)).read())
    assert record["revoked"][gone_serial]["cluster"] == gone


def test_a_second_run_changes_nothing(ansible_playbook, revocation_on, departed_inventory):
    again = ansible_playbook("trust.yml", inventory=departed_inventory, extra_vars=DEPARTED)
    assert again.rc == 0 and again.changed == 0, again.stdout[-3000:]


def expired_root_crl(lab, root_dir, name):
    """The cluster's ca-crl.pem with the root's CRL replaced by one whose nextUpdate has passed."""
    root = pki.load_root(pki.read_source("c", "%s/root-cert.pem" % root_dir),
                         pki.read_key_file("k", "%s/root-key.pem" % root_dir))
    crls = crl.load_crls("cacerts", cacerts(lab, name)[crl.CA_CRL])
    stale = crl.sign_crl(root.cert, root.key, {}, 1, pki.utcnow() - datetime.timedelta(days=3))
    return crl.crls_pem([stale] + [item for item in crls if not crl.signed_by(item, root.cert)])


def put_crl(lab, name, text):
    """Set (or with None remove) ca-crl.pem of the cluster's cacerts behind the collection's back."""
    client = lab.client(name)
    secret = client.get("Secret", "cacerts", NS)
    secret["data"].pop(crl.CA_CRL, None)
    if text is not None:
        secret["data"][crl.CA_CRL] = base64.b64encode(text.encode()).decode()
    client.request("PUT", "/api/v1/namespaces/%s/secrets/cacerts" % NS, body=json.dumps(secret))


def test_a_missing_or_expired_crl_fails_the_fleet_check_naming_the_fix(lab, ansible_playbook, revocation_on, root_dir,
                                                                       departed_inventory, tmp_path):
    missing, expired = lab.names[0], lab.names[1]
    put_crl(lab, expired, expired_root_crl(lab, root_dir, expired))
    put_crl(lab, missing, None)
    reports = tmp_path / "reports"
    run = ansible_playbook("verify.yml", inventory=departed_inventory,
                           extra_vars={"mesh_ca_revocation": True, "mesh_verify_report_dir": str(reports)})
    assert run.rc != 0, run.stdout[-3000:]
    model = json.loads((reports / "mesh-report.json").read_text())
    results = {c["name"]: c["results"]["intermediate"] for c in model["clusters"]}
    assert results[missing]["status"] == "fail" and "missing" in results[missing]["detail"], results[missing]
    assert results[expired]["status"] == "fail" and "expired" in results[expired]["detail"], results[expired]
    for name in (missing, expired):
        assert "playbooks/trust.yml" in results[name]["fix"], results[name]


class PairWatch(threading.Thread):
    """While a playbook runs: again and again, for every ordered pair (X, Y), the certificate X's
    istiod serves verifies against Y's root bundle and the CRL Y's istiod publishes, unless X still
    serves from the revoked intermediate `revoked_serial`, or Y still publishes a CRL file the test
    broke behind the collection's back (`excused`: {cluster: published texts}). Each X's
    intermediates (cacerts and the staged cacerts-next) are remembered, so a leaf served from one no
    longer in the Secret still finds its issuer."""

    def __init__(self, lab, directory, revoked_serial, excused):
        super().__init__(daemon=True)
        self.lab, self.directory, self.revoked_serial, self.excused = lab, directory, revoked_serial, excused
        self.intermediates = {name: {} for name in lab.names}
        self.stop, self.samples, self.refused = threading.Event(), 0, []

    def learn(self, name):
        for secret in ("cacerts", "cacerts-next"):
            data = pki.decode_secret_data(self.lab.client(name).get("Secret", secret, NS) or {"data": {}})
            if pki.CA_CERT in data:
                cert = pki.load_certs((secret, secret, data[pki.CA_CERT].encode()))[0]
                self.intermediates[name][cert.serial_number] = (cert, data[pki.CA_CERT])

    def served(self, name):
        """(serial of the issuing intermediate, its PEM, the leaf PEM), or None while istiod restarts."""
        try:
            leaf_pem = istiod_leaf(self.lab, name)
        except OSError:
            return None
        leaf = pki.load_certs(("leaf", "leaf", leaf_pem.encode()))[0]
        return next(((serial, pem, leaf_pem) for serial, (cert, pem) in self.intermediates[name].items()
                     if pki.issued_by(leaf, cert)), (None, None, leaf_pem))

    def run(self):
        names = self.lab.names
        while not self.stop.is_set():
            for name in names:
                self.learn(name)
            served = {name: self.served(name) for name in names}
            trust = {name: (cacerts(self.lab, name)[pki.ROOT_CERT], published(self.lab, name)) for name in names}
            for x, chain in served.items():
                if chain is None or format(chain[0] or 0, "x") == self.revoked_serial:
                    continue
                if chain[0] is None:
                    self.refused.append("sample %d: %s's istiod serves a certificate of no intermediate it "
                                        "held" % (self.samples, x))
                    continue
                for y, (roots, crl_text) in trust.items():
                    if (crl_text or "") in self.excused.get(y, ()):
                        continue
                    ok, output = openssl_verify(self.directory, roots, chain[1], chain[2], crl_text or "")
                    if not ok:
                        self.refused.append("sample %d: %s's istiod against %s: %s" % (self.samples, x, y, output))
            self.samples += 1
            self.stop.wait(0.5)


def test_a_revoked_cluster_rejoins_with_a_new_intermediate_and_crls_near_expiry_are_renewed(
        lab, ansible_playbook, revocation_on, root_dir, tmp_path):
    gone = lab.names[-1]
    old_serial = pki.summary(cacerts(lab, gone))["intermediate"]["serial"]
    before = {item.issuer.rfc4514_string(): item.next_update_utc
              for item in crl.load_crls("fleet", open("%s/%s" % (root_dir, crl.CA_CRL)).read())}
    # the missing and the expired file of the last test, until this run repairs them
    broken = {name: {published(lab, name) or "", ""} for name in lab.names[:2]}
    watch = PairWatch(lab, tmp_path / "watch", old_serial, broken)
    watch.directory.mkdir()
    watch.start()
    # every CRL has about 30 days left, fewer than 45: near expiry for this run, which signs them for 60
    try:
        run = ansible_playbook("trust.yml", extra_vars={"mesh_ca_revocation": True, "mesh_ca_crl_days": 60,
                                                        "mesh_ca_crl_renew_before_days": 45})
    finally:
        watch.stop.set()
        watch.join()
    assert run.rc == 0, run.stdout[-5000:]
    # at every step of the add, not only at the end: no valid chain was refused by any cluster
    assert watch.samples >= 5 and watch.refused == [], (watch.samples, watch.refused[:5])
    new_serial = pki.summary(cacerts(lab, gone))["intermediate"]["serial"]
    assert new_serial != old_serial
    fleet = open("%s/%s" % (root_dir, crl.CA_CRL)).read()
    assert crl.revoked_serials(crl.load_crls("fleet", fleet)[0]) == [old_serial]
    renewed = crl.load_crls("fleet", fleet)
    assert all(item.next_update_utc - pki.utcnow() > datetime.timedelta(days=45) for item in renewed), fleet
    assert all(item.next_update_utc > before[item.issuer.rfc4514_string()]
               for item in renewed if item.issuer.rfc4514_string() in before)
    for name in lab.names:  # the missing and the expired file of the last test repaired too
        assert cacerts(lab, name)[crl.CA_CRL] == fleet, name
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
