"""Tenant input against the lab's real API servers: what namespace owners control degrades only
their Service, or one host in one cluster, never the fleet or a cluster (issue #20, finding 2).

In one services.yml run: a malformed export-to annotation on one exported Service of the first
cluster holds that Service back (its entries stay exactly as they were everywhere), and a
ServiceEntry of someone else in the second cluster that uses one of our `.global` hosts skips that
host there (theirs untouched, ours left as it is). Everything else converges, and the fleet check
lists both.
"""

from __future__ import annotations

import json

import pytest
from services_lab import ensure_gateways, ensure_namespace, entries, records, run_services, untouched, vip_store

from ansible_collections.meshops.multicluster.plugins.module_utils._services.exports import (
    EXPORT_LABEL, EXPORT_TO_ANNOTATION)

NS = "meshops-tenant-test"
# Where the tenant of the second cluster keeps a ServiceEntry of their own.
THEIRS = "meshops-tenant-own"


def host(name):
    return "%s.%s.global" % (name, NS)


def publish(client, name, ports=(8000,), export_to=None):
    ensure_namespace(client, NS)
    metadata = {"name": name, "namespace": NS, "labels": {EXPORT_LABEL: "true"}}
    if export_to is not None:
        metadata["annotations"] = {EXPORT_TO_ANNOTATION: export_to}
    client.apply({"apiVersion": "v1", "kind": "Service", "metadata": metadata,
                  "spec": {"selector": {"app": name},
                           "ports": [{"name": "http-%d" % port, "port": port} for port in ports]}})


def unwrapped(text):
    """Text without whitespace: Ansible wraps warnings, also at hyphens."""
    return "".join(text.split())


def ours(lab):
    """{(cluster, kind, host): (resourceVersion, spec)} of this test's objects of the step."""
    return {(name, kind, key): (obj["metadata"]["resourceVersion"], obj["spec"])
            for name in lab.names for kind in ("ServiceEntry", "DestinationRule")
            for key, obj in entries(lab.client(name), kind).items() if key.endswith(host(""))}


def withdraw(lab):
    for name in lab.names:
        client = lab.client(name)
        client.delete("ServiceEntry", "mine", THEIRS)
        for service in client.list("Service", NS):
            client.delete("Service", service["metadata"]["name"], NS)


@pytest.fixture
def clean(lab, ansible_playbook):
    withdraw(lab)
    yield
    withdraw(lab)
    run_services(ansible_playbook)
    for name in lab.names:
        for namespace in (NS, THEIRS):
            lab.client(name).delete("Namespace", namespace)


def test_a_bad_annotation_and_a_tenants_entry_on_our_host_degrade_only_their_host(lab, ansible_playbook, clean):
    gateways = ensure_gateways(lab, ansible_playbook)
    first, second = lab.names[:2]
    one, two = lab.client(first), lab.client(second)
    publish(one, "good")
    publish(one, "bad")
    run_services(ansible_playbook)
    before = ours(lab)
    vips = {name: vip_store(one)[host(name)] for name in ("good", "bad")}

    # The owner of "bad" breaks its annotation and adds a port; the owner of "good" adds a port; a
    # tenant of the second cluster makes a ServiceEntry of their own for "good"'s host; "fresh" is new.
    bad_value = "%s;%s" % (second, first)
    publish(one, "bad", ports=(8000, 9000), export_to=bad_value)
    publish(one, "good", ports=(8000, 9000))
    publish(one, "fresh")
    ensure_namespace(two, THEIRS)
    theirs = two.apply({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
                        "metadata": {"name": "mine", "namespace": THEIRS},
                        "spec": {"hosts": [host("good")], "location": "MESH_EXTERNAL", "resolution": "DNS",
                                 "ports": [{"number": 8000, "name": "http", "protocol": "HTTP"}]}})

    run = run_services(ansible_playbook)  # one run, rc 0
    for warning in (
            "cluster %s: Service %s/bad: annotation %s=%r: item 1 %r is not a cluster name"
            % (first, NS, EXPORT_TO_ANNOTATION, bad_value, bad_value),
            "host %s keeps its current ServiceEntries and DestinationRules in every cluster" % host("bad"),
            "cluster %s: ServiceEntry %s/mine is not managed by meshops.multicluster but has host %s, which this "
            "step needs for host %s: that host is skipped in this cluster" % (second, THEIRS, host("good"), host("good"))):
        assert unwrapped(warning) in unwrapped(run.stderr), run.stderr[-4000:]

    after = ours(lab)
    for name in lab.names:
        client = lab.client(name)
        # the held Service: every object exactly as it was, its VIP and record kept
        for kind in ("ServiceEntry", "DestinationRule"):
            assert after[(name, kind, host("bad"))] == before[(name, kind, host("bad"))], name
        store = vip_store(client)
        assert store[host("bad")] == vips["bad"] == records(client)[host("bad")], name
        # the new Service converged everywhere with its VIP; the good one everywhere but the clash
        fresh = entries(client)[host("fresh")]
        assert fresh["spec"]["addresses"] == [store[host("fresh")]] == [records(client)[host("fresh")]], name
        good = entries(client)[host("good")]
        assert good["spec"]["addresses"] == [vips["good"]], name
        if name == second:
            assert after[(name, "ServiceEntry", host("good"))] == before[(name, "ServiceEntry", host("good"))]
            assert fresh["spec"]["endpoints"][0]["address"] == gateways[first]
        else:
            assert [port["number"] for port in good["spec"]["ports"]] == [8000, 9000], name
    # theirs untouched
    assert untouched(two.get("ServiceEntry", "mine", THEIRS), theirs)

    # the fleet check lists them per cluster, as warnings
    report = ansible_playbook("verify.yml", extra_vars={"mesh_verify_fail": False, "mesh_verify_dns_wait": 0})
    assert report.rc == 0, report.stdout[-3000:]
    model = json.loads((lab.dir / "reports" / "mesh-report.json").read_text())
    results = {c["name"]: c["results"] for c in model["clusters"]}
    for name in lab.names:
        held = results[name]["held_hosts"]
        assert held["status"] == "warn" and "%s (held back: cluster %s: Service %s/bad" % (host("bad"), first, NS) \
            in held["detail"], (name, held)
        assert ("%s (skipped here: ServiceEntry %s/mine" % (host("good"), THEIRS) in held["detail"]) == (name == second)
        assert results[name]["service_entries"]["detail"].endswith("as desired"), (name, results[name])
    assert unwrapped("WARN %s / Held hosts: 2 host(s) left as they are" % second) in unwrapped(report.stdout)
