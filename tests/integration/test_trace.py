"""playbooks/trace.yml on the lab: a healthy host passes every hop in every direction; each break the
issue lists, made in the lab, is found at its hop with the fix, no hop before it failing; the trace
writes nothing."""

from __future__ import annotations

import base64
import re
import time

import pytest
import yaml
from services_lab import ensure_namespace, run_services

from labtools import lab_command
from lab.trace import trace_xds

from ansible_collections.meshops.multicluster.plugins.module_utils._trust import pki

NAMESPACE = "trace"
EXPORT = {"multicluster.meshops.io/export": "true"}
# Service -> the clusters that export it; every one but `every` breaks in its own way (BREAKS).
EXPORTERS = {"every": (0, 1, 2), "unlabelled": (0,), "selected": (0,), "record": (0,), "stale": (2,),
             "rule": (0,), "rooted": (2,), "gatewayless": (0,), "idle": (1,)}
# Service -> (hop, check, cluster index or "fleet", words of the fix), as traced from the second cluster.
BREAKS = {
    "unlabelled": (1, "export", "fleet", "label the Service multicluster.meshops.io/export=true"),
    "selected": (1, "export", 1, "export-to annotation"),
    "record": (2, "dns", 1, "playbooks/services.yml"),
    "stale": (3, "service_entry", 1, "playbooks/services.yml"),
    "rule": (4, "destination_rule", 1, "playbooks/services.yml"),
    "rooted": (6, "trust", 2, "playbooks/trust.yml"),
    "gatewayless": (7, "gateway", 0, "mesh_gateway_address_override"),
    "idle": (8, "exporter", 1, "Ready"),
}
GATEWAY = ("istio-eastwestgateway", "istio-system")


def host(name):
    return "%s.%s.global" % (name, NAMESPACE)


def lab_switches(lab):
    """What the lab's inventory turns off of the trace (lab/inventory.py says why)."""
    return yaml.safe_load(open(lab.inventory))["mesh_clusters"]["vars"]


def deploy(lab):
    """A workload in every cluster and each Service of EXPORTERS in its exporters (`idle` selects no pod)."""
    for index, name in enumerate(lab.names):
        client = lab.client(name)
        ensure_namespace(client, NAMESPACE)
        client.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app", "namespace": NAMESPACE},
                      "spec": {"selector": {"matchLabels": {"app": "app"}},
                               "template": {"metadata": {"labels": {"app": "app"}},
                                            "spec": {"containers": [{"name": "app", "image": "app"}]}}}})
        for service, exporters in EXPORTERS.items():
            if index in exporters:
                annotations = {"multicluster.meshops.io/export-to": lab.names[2]} if service == "selected" else {}
                client.apply({"apiVersion": "v1", "kind": "Service",
                              "metadata": {"name": service, "namespace": NAMESPACE, "labels": EXPORT,
                                           "annotations": annotations},
                              "spec": {"selector": {"app": "nothing" if service == "idle" else "app"},
                                       "ports": [{"name": "http", "port": 8000}]}})


def verdicts(run):
    """{(service, source): verdict} from the titles of the trace's tables."""
    return {(m.group(1), m.group(2)): m.group(3).strip()
            for m in re.finditer(r"== (\S+)\.%s\.global from (\S+): (.+)$" % NAMESPACE, run.stdout, re.M)}


def rows(run, service, source):
    """The table of one trace, as printed (up to the next trace's title or the end of the message)."""
    start = run.stdout.index("== %s from %s:" % (host(service), source))
    end = min(i for i in (run.stdout.find("== ", start + 3), run.stdout.find("\nTASK", start), len(run.stdout)) if i >= 0)
    return run.stdout[start:end]


def root_fingerprints(pem):
    return {pki.fingerprint(cert) for cert in pki.load_certs(("root-cert.pem", "root-cert.pem", pem.encode()))}


def other_root_cacerts():
    """Secret cacerts data of an intermediate CA issued by a root no cluster trusts."""
    data = pki.issue_intermediate(pki.generate_root("ec", common_name="Another Root"), "cluster3", key_type="ec")
    return {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}


def wait_for(condition, what, timeout=90):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(1)


@pytest.fixture(scope="module")
def traced(lab, converged, ansible_playbook):
    deploy(lab)
    run_services(ansible_playbook)
    yield
    first, _second, third = lab.names[:3]
    for name in lab.names:
        lab.client(name).delete("Namespace", NAMESPACE)
    lab_command("lb", first, "on")
    run_services(ansible_playbook)


def test_a_healthy_host_passes_every_hop_from_every_cluster_and_nothing_is_written(lab, traced, ansible_playbook):
    writes = lab.writes()
    # Hop 5 reads istiod's debug views through a port-forward to its pod (kwok forwards it to the lab's istiod).
    run = ansible_playbook("trace.yml", "--check", extra_vars={"mesh_trace_istiod_debug": True,
                                                               "mesh_trace_host": host("every")})
    assert run.rc == 0, run.stdout[-4000:]
    assert {source: verdict for (service, source), verdict in verdicts(run).items()} == dict.fromkeys(
        lab.names, "every hop passes")
    table = rows(run, "every", lab.names[1])
    # What a user reads: the VIP, the other clusters' gateways on 15443 with their localities, mutual TLS.
    assert re.search(r"3 service_entry\s+%s\s+PASS\s+ServiceEntry trace/every.trace.global: VIP 240\.\S+, ports "
                     r"http/8000 HTTP" % lab.names[1], table)
    assert re.search(r"endpoint 127\.\S+:15443 \(%s\) lab-east/zone1" % lab.names[0], table)
    assert "ISTIO_MUTUAL" in table and "zone record every.trace.global -> 240." in table
    # istiod, asked through a port-forward (from its localhost), holds the host with the VIP and both remote gateways.
    assert re.search(r"^\s*5 istiod\s+%s\s+PASS\s+istiod istiod-\S+ \(pod istiod-\S+\) holds every\.trace\.global "
                     r"with VIP 240\." % lab.names[1], table, re.M), table
    assert len(re.findall(r"endpoint 127\.\S+:15443 tlsMode istio", table)) == 2, table
    if lab.state.get("netns"):
        assert re.search(r"8 exporter\s+%s\s+PASS\s+Service trace/every: 1 ready endpoint" % lab.names[0], table)
    assert lab.writes() == writes
    # Hop 9, which only the lab sees: the real istiods send the sidecar and both remote gateways what the path needs.
    hop9 = trace_xds(host("every"), lab.names[1])
    expected = [(lab.names[1], "PASS"), (lab.names[0], "PASS"), (lab.names[2], "PASS")]
    assert [(r["cluster"], r["status"]) for r in hop9] == expected, hop9


def test_each_break_is_found_at_its_hop_with_the_fix(lab, traced, ansible_playbook):
    first, second, third = lab.names[:3]
    cluster = {0: first, 1: second, 2: third}
    client1, client2, client3 = (lab.client(name) for name in (first, second, third))
    # unlabelled: its owner took the export label off
    client1.merge_patch("Service", "unlabelled", NAMESPACE, {"metadata": {"labels": {"multicluster.meshops.io/export": None}}})
    # record: the zone server lost the host's record in the second cluster
    records = client2.get("ConfigMap", "istiocoredns-records", "istio-system")
    kept = [line for line in records["data"]["global.hosts"].splitlines() if not line.endswith(" " + host("record"))]
    records["data"]["global.hosts"] = "\n".join(kept)
    client2.replace(records)
    # stale: the entry still points at the third cluster's old load balancer (the first one's address is unknown below)
    entry = client2.get("ServiceEntry", host("stale"), NAMESPACE)
    entry["spec"]["endpoints"][0]["address"] = "127.0.0.99"
    client2.replace(entry)
    # rule: the DestinationRule was deleted
    client2.delete("DestinationRule", host("rule"), NAMESPACE)
    # rooted: the third cluster's istiod signs with an intermediate of another root
    original = client3.get("Secret", "cacerts", "istio-system")
    client3.merge_patch("Secret", "cacerts", "istio-system", {"data": other_root_cacerts()})
    # gatewayless: the first cluster's load balancer took its address back
    lab_command("lb", first, "off")
    client1.request("PATCH", "/api/v1/namespaces/istio-system/services/istio-eastwestgateway/status",
                    body='{"status": {"loadBalancer": {"ingress": null}}}', content_type="application/merge-patch+json")
    checked = [s for s in BREAKS if s != "idle" or lab_switches(lab).get("mesh_trace_ready_endpoints") is not False]
    writes = lab.writes()
    try:
        run = ansible_playbook("trace.yml", extra_vars={"mesh_trace_hosts": [host(s) for s in checked], "mesh_trace_from": second})
        assert run.rc != 0 and lab.writes() == writes
    finally:
        client3.merge_patch("Secret", "cacerts", "istio-system", {"data": original["data"]})
    found = verdicts(run)
    for service in checked:
        hop, check, where, fix = BREAKS[service]
        where = where if where == "fleet" else cluster[where]
        assert found[(service, second)] == "broken at hop %d (%s) in %s" % (hop, check, where), rows(run, service, second)
        table = rows(run, service, second)
        assert "fix: " in table and fix in table, table
        before = table[:re.search(r"^\s*%d %s " % (hop, check), table, re.M).start()]
        assert not re.search(r"^\s*\d \S+\s+\S+\s+FAIL", before, re.M), table  # no hop before it fails
    assert "%d trace(s) broken" % len(checked) in run.text
    # the third cluster's istiod hands out the fleet's root again before other tests run
    fleet_roots = root_fingerprints(base64.b64decode(original["data"]["root-cert.pem"]).decode())
    wait_for(lambda: root_fingerprints(client3.get("ConfigMap", "istio-ca-root-cert", "istio-system")["data"]
                                       ["root-cert.pem"]) == fleet_roots,
             "istiod of %s hands out the fleet's root again" % third)
