"""ServiceEntry distribution against the lab's real API servers (Istio's CRDs installed).

Test Services live in the namespace NS, made by the tests (not ours); their ServiceEntries are
replicated into NS of the other clusters, where the step creates it. Each test sets which
cluster exports what, runs playbooks/services.yml and looks at every cluster.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
import yaml
from labtools import lab_command
from services_lab import ensure_gateways, ensure_namespace, entries, records, run_services, untouched, vip_store

from ansible_collections.meshops.multicluster.plugins.module_utils._services.render import is_owned
from ansible_collections.meshops.multicluster.plugins.module_utils._services.exports import EXPORT_LABEL

NS = "meshops-services-test"
SERVICES = ("echo", "keep", "third")


def host(name):
    return "%s.%s.global" % (name, NS)


def set_exports(lab, exported):
    """exported: {cluster: [service names]}; every test Service exists in every cluster, only
    those listed carry the export label (server-side apply drops the label from the others)."""
    for name in lab.names:
        client = lab.client(name)
        ensure_namespace(client, NS)
        for service in SERVICES:
            labels = {"app": service}
            if service in exported.get(name, ()):
                labels[EXPORT_LABEL] = "true"
            client.apply({"apiVersion": "v1", "kind": "Service",
                          "metadata": {"name": service, "namespace": NS, "labels": labels},
                          "spec": {"selector": {"app": service},
                                   "ports": [{"name": "http", "port": 8000, "targetPort": 8080},
                                             {"name": "grpc-api", "port": 9000}]}})


FOREIGN = {}  # cluster -> a ServiceEntry of someone else as it was made, once


@pytest.fixture
def fleet(lab, ansible_playbook):
    """The lab with Istio's CRDs and east-west gateways (the control plane step, run if missing),
    and in every cluster a ServiceEntry of someone else that no run may touch.

    Returns {cluster: gateway address}.
    """
    gateways = ensure_gateways(lab, ansible_playbook)
    for name in lab.names:
        if name not in FOREIGN:
            client = lab.client(name)
            ensure_namespace(client, NS)
            FOREIGN[name] = client.apply({
                "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
                "metadata": {"name": "theirs", "namespace": NS, "labels": {"team": "payments"}},
                "spec": {"hosts": ["theirs.example.com"], "location": "MESH_EXTERNAL", "resolution": "DNS",
                         "ports": [{"name": "https", "number": 443, "protocol": "HTTPS"}]},
            })
    return gateways


@pytest.fixture(scope="module", autouse=True)
def remove_test_namespace(lab):
    yield
    for name in lab.names:
        lab.client(name).delete("Namespace", NS)


def test_exported_from_one_cluster(lab, fleet, ansible_playbook):
    first, second = lab.names[0], lab.names[1]
    set_exports(lab, {first: ["echo", "keep"]})
    run_services(ansible_playbook)

    vips = vip_store(lab.client(first))
    assert set(vips) == {host("echo"), host("keep")}
    for name in lab.names:
        client = lab.client(name)
        found = entries(client)
        assert set(found) == {host("echo"), host("keep")}, name
        assert vip_store(client) == vips and records(client) == vips, name
        spec = found[host("echo")]["spec"]
        assert spec["addresses"] == [vips[host("echo")]] and spec["resolution"] == "DNS"
        assert spec["location"] == "MESH_INTERNAL"
        assert spec["ports"] == [{"name": "http", "number": 8000, "protocol": "HTTP"},
                                 {"name": "grpc-api", "number": 9000, "protocol": "GRPC"}]
        endpoint = spec["endpoints"][0]
        assert endpoint["labels"] == {"security.istio.io/tlsMode": "istio"}
        if name == first:
            assert endpoint["address"] == "echo.%s.svc.cluster.local" % NS
            assert endpoint["ports"] == {"http": 8000, "grpc-api": 9000}
        else:
            assert endpoint["address"] == fleet[first]
            assert endpoint["ports"] == {"http": 15443, "grpc-api": 15443}
        assert len(spec["endpoints"]) == 1
    # the namespace was already there (made by the tests): used, not labelled
    assert not is_owned(lab.client(second).get("Namespace", NS))


def test_second_run_changes_nothing_and_writes_nothing(lab, fleet, ansible_playbook):
    set_exports(lab, {lab.names[0]: ["echo", "keep"]})
    run_services(ansible_playbook)
    before = lab.writes()
    result = run_services(ansible_playbook)
    assert result.changed == 0, result.stdout[-4000:]
    assert lab.writes() == before


def test_exported_from_two_clusters_gets_both_gateways(lab, fleet, ansible_playbook):
    first, second, *others = lab.names
    set_exports(lab, {first: ["echo", "keep"]})
    run_services(ansible_playbook)
    vips = vip_store(lab.client(first))
    set_exports(lab, {first: ["echo", "keep"], second: ["echo"]})
    run_services(ansible_playbook)

    addresses = {name: [e["address"] for e in entries(lab.client(name))[host("echo")]["spec"]["endpoints"]]
                 for name in lab.names}
    local = "echo.%s.svc.cluster.local" % NS
    assert addresses[first] == [local, fleet[second]]
    assert addresses[second] == [local, fleet[first]]
    for name in others:
        assert addresses[name] == [fleet[exporter] for exporter in sorted([first, second])]
    assert all(vip_store(lab.client(name)) == vips for name in lab.names), "VIPs must not change"


def test_unexport_removes_it_everywhere_and_keeps_other_vips(lab, fleet, ansible_playbook):
    first, second, *others = lab.names
    set_exports(lab, {first: ["echo", "keep"], second: ["echo"]})
    run_services(ansible_playbook)
    keep_vip = vip_store(lab.client(first))[host("keep")]
    set_exports(lab, {first: ["keep"]})
    run_services(ansible_playbook)
    for name in lab.names:
        client = lab.client(name)
        assert set(entries(client)) == {host("keep")}, name
        assert vip_store(client) == {host("keep"): keep_vip} == records(client)


def test_inventory_list_exports_too(lab, fleet, ansible_playbook):
    set_exports(lab, {})
    run_services(ansible_playbook, extra_vars={"mesh_services_exported": ["%s/keep" % NS]})
    for name in lab.names:
        found = entries(lab.client(name))
        assert set(found) == {host("keep")}
        # every cluster has the Service, so each points at its local one first, then the others
        assert found[host("keep")]["spec"]["endpoints"][0]["address"] == "keep.%s.svc.cluster.local" % NS
        assert len(found[host("keep")]["spec"]["endpoints"]) == len(lab.names)


def test_removed_cluster_is_pruned_elsewhere(lab, fleet, ansible_playbook, tmp_path):
    *kept, removed = lab.names
    set_exports(lab, {kept[0]: ["keep"], removed: ["third"]})
    run_services(ansible_playbook)
    keep_vip = vip_store(lab.client(kept[0]))[host("keep")]
    assert host("third") in entries(lab.client(kept[0]))

    inventory = yaml.safe_load(open(lab.inventory))
    del inventory["mesh_clusters"]["hosts"][removed]
    smaller = tmp_path / "hosts.yml"
    smaller.write_text(yaml.safe_dump(inventory))
    run_services(ansible_playbook, inventory=str(smaller))
    for name in kept:
        client = lab.client(name)
        assert set(entries(client)) == {host("keep")}, name
        assert vip_store(client) == {host("keep"): keep_vip}
    # back in the inventory: its stale store is overwritten, its entries brought up to date
    run_services(ansible_playbook)
    assert vip_store(lab.client(removed))[host("keep")] == keep_vip
    assert set(entries(lab.client(removed))) == {host("keep"), host("third")}


# --- namespaces that exist in one cluster only (replicated to the others by the step) --------------

LONE = "meshops-lone"


def export_lone(lab, cluster, exported=True):
    """Service `solo` in namespace LONE, which only `cluster` has (exported, or not)."""
    client = lab.client(cluster)
    ensure_namespace(client, LONE)
    client.apply({"apiVersion": "v1", "kind": "Service",
                  "metadata": {"name": "solo", "namespace": LONE, "labels": {EXPORT_LABEL: "true"} if exported else {}},
                  "spec": {"selector": {"app": "solo"}, "ports": [{"name": "http", "port": 8000}]}})


def namespace_phase(client, name):
    namespace = client.get("Namespace", name)
    return None if namespace is None else (namespace.get("status") or {}).get("phase")


def test_a_run_after_unexport_writes_nothing_while_the_replicated_namespace_goes(lab, fleet, ansible_playbook):
    first, *others = lab.names
    set_exports(lab, {})
    export_lone(lab, first)
    run_services(ansible_playbook)
    assert all(namespace_phase(lab.client(name), LONE) == "Active" for name in others)
    export_lone(lab, first, exported=False)
    run_services(ansible_playbook)  # the entries go, and with them the namespaces made for them
    before = lab.writes()
    again = run_services(ansible_playbook)  # right away, while those namespaces are still being deleted
    assert again.changed == 0 and lab.writes() == before, again.stdout[-3000:]
    lab.client(first).delete("Namespace", LONE)


def test_a_cluster_added_back_right_after_its_removal_converges_in_one_run(lab, fleet, ansible_playbook, tmp_path):
    *kept, removed = lab.names
    set_exports(lab, {})
    export_lone(lab, removed)
    run_services(ansible_playbook)
    inventory = yaml.safe_load(open(lab.inventory))
    del inventory["mesh_clusters"]["hosts"][removed]
    smaller = tmp_path / "hosts.yml"
    smaller.write_text(yaml.safe_dump(inventory))
    run_services(ansible_playbook, inventory=str(smaller))  # LONE is pruned from the others
    assert all(namespace_phase(lab.client(name), LONE) in ("Terminating", None) for name in kept)
    back = run_services(ansible_playbook)  # waits for LONE to be gone, then replicates it again
    assert "still being deleted" not in back.text
    for name in kept:
        client = lab.client(name)
        assert namespace_phase(client, LONE) == "Active", name
        assert host("solo").replace(NS, LONE) in {e["metadata"]["name"] for e in client.list("ServiceEntry", LONE)}
    export_lone(lab, removed, exported=False)  # leave no export behind for the other tests
    run_services(ansible_playbook)


def test_limit_converges_the_limited_clusters_and_keeps_what_the_others_export(lab, fleet, ansible_playbook):
    first, second = lab.names[:2]
    set_exports(lab, {first: ["keep"], second: ["third"]})
    run_services(ansible_playbook)
    third_vip = vip_store(lab.client(first))[host("third")]
    # the second cluster stops exporting `third`, the first starts exporting `echo`; only the first runs
    set_exports(lab, {first: ["keep", "echo"]})
    before = lab.writes()
    run = run_services(ansible_playbook, "--limit", first)
    assert "%s, %s could not be read" % (second, lab.names[2]) in " ".join(run.stderr.split())  # a warning
    held = entries(lab.client(first))
    assert set(held) == {host("keep"), host("echo"), host("third")}
    assert held[host("third")]["spec"]["addresses"] == [third_vip]
    assert all(lab.write_requests(name) == before[name] for name in lab.names if name != first)
    run_services(ansible_playbook)
    assert set(entries(lab.client(first))) == {host("keep"), host("echo")}


def test_serviceentry_of_someone_else_with_our_host_skips_that_host_there_only(lab, fleet, ansible_playbook):
    first, second = lab.names[0], lab.names[1]
    set_exports(lab, {first: ["echo"]})
    run_services(ansible_playbook)
    client = lab.client(second)
    client.delete("ServiceEntry", host("echo"), NS)
    rule = client.get("DestinationRule", host("echo"), NS)
    theirs = client.apply({
        "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
        "metadata": {"name": "echo-by-hand", "namespace": NS},
        "spec": {"hosts": [host("echo")], "location": "MESH_INTERNAL", "resolution": "DNS",
                 "ports": [{"name": "http", "number": 8000, "protocol": "HTTP"}]}})
    set_exports(lab, {first: ["echo", "keep"]})
    try:
        result = run_services(ansible_playbook)
        assert "".join(("cluster %s: ServiceEntry %s/echo-by-hand is not managed by meshops.multicluster but has "
                        "host %s" % (second, NS, host("echo"))).split()) in "".join(result.stderr.split())
        assert untouched(client.get("ServiceEntry", "echo-by-hand", NS), theirs)
        # ours of that host left as it is there (none re-created, the rule kept); the rest converged
        assert set(entries(client)) == {host("keep")}
        assert client.get("DestinationRule", host("echo"), NS)["metadata"]["resourceVersion"] == \
            rule["metadata"]["resourceVersion"]
        assert all(set(entries(lab.client(name))) == {host("echo"), host("keep")} for name in lab.names if name != second)
    finally:
        client.delete("ServiceEntry", "echo-by-hand", NS)
    run_services(ansible_playbook)
    assert set(entries(client)) == {host("echo"), host("keep")}


def test_a_bad_service_port_holds_back_that_service_only(lab, fleet, ansible_playbook):
    first = lab.names[0]
    set_exports(lab, {first: ["echo"]})
    run_services(ansible_playbook)
    lab.client(first).apply({"apiVersion": "v1", "kind": "Service",
                             "metadata": {"name": "unnamed", "namespace": NS, "labels": {EXPORT_LABEL: "true"}},
                             "spec": {"selector": {"app": "unnamed"}, "ports": [{"port": 7000}]}})
    set_exports(lab, {first: ["keep"]})
    try:
        result = run_services(ansible_playbook)
        assert "".join(("cluster %s: Service %s/unnamed port 7000 has no name" % (first, NS)).split()) \
            in "".join(result.stderr.split())
        for name in lab.names:
            assert set(entries(lab.client(name))) == {host("keep")}, name
            assert host("unnamed") not in vip_store(lab.client(name)), name
    finally:
        lab.client(first).delete("Service", "unnamed", NS)


def test_gateway_host_name_from_the_inventory(lab, fleet, ansible_playbook):
    first, second = lab.names[0], lab.names[1]
    set_exports(lab, {first: ["echo"]})
    run_services(ansible_playbook, extra_vars={"mesh_gateway_address_override": "gateway.example.com"})
    endpoint = entries(lab.client(second))[host("echo")]["spec"]["endpoints"][0]
    assert endpoint["address"] == "gateway.example.com" and endpoint["ports"] == {"http": 15443, "grpc-api": 15443}


def test_a_concurrent_change_of_the_vip_store_is_detected(lab, fleet, ansible_playbook, tmp_path):
    first = lab.names[0]
    set_exports(lab, {first: ["echo"]})
    run_services(ansible_playbook)
    client = lab.client(first)
    read = client.get("ConfigMap", "meshops-vips", "istio-system")
    generation = int(read["metadata"]["annotations"]["multicluster.meshops.io/vip-generation"])
    # another run writes the store after this one read it
    client.apply({"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "meshops-vips", "namespace": "istio-system",
                               "annotations": {"multicluster.meshops.io/vip-generation": str(generation + 1)}},
                  "data": dict(read["data"], **{host("keep"): "240.10.0.200"})})
    playbook = tmp_path / "stale.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "A run that planned from the store as it was", "hosts": first, "gather_facts": False,
        "tasks": [{"meshops.multicluster.service_entry": {
            "kubeconfig": lab.kubeconfig, "context": first, "cluster_name": first, "plan": {
                "services": [], "allocations": {}, "generation": generation + 1, "unavailable": [],
                "gateways": {first: {"address": "", "port": 15443, "locality": ""}},
                "layout": {"namespace_mode": "replicate", "namespace": "istio-system", "cluster_domain": "cluster.local"},
                "clusters": {first: {"vip_store": {"resource_version": read["metadata"]["resourceVersion"]}}}}}}],
    }]))
    before = lab.write_requests(first)
    result = ansible_playbook(str(playbook))
    assert result.rc != 0 and "another run changed the VIP allocation" in result.stdout
    assert lab.write_requests(first) == before
    # the next full run converges on the newest allocation
    run_services(ansible_playbook)
    stores = [vip_store(lab.client(name)) for name in lab.names]
    assert all(store == stores[0] for store in stores)
    assert stores[0][host("echo")] == read["data"][host("echo")] and host("keep") not in stores[0]


MANY = "meshops-services-many"
# Enough writes per cluster (2 per host) that a run is still writing when the API server stops, at
# 8 in flight: with the modules in Ansible's workers and a quiet machine, 120 writes could end before
# the stop took effect; few enough to keep the suite in its budget.
MANY_COUNT = 150


def export_many(lab, count, start=0):
    """Exported Services many-<start> to many-<start + count - 1> in namespace MANY of the first
    cluster: 2 x count objects to write in each cluster."""
    client = lab.client(lab.names[0])
    ensure_namespace(client, MANY)
    for i in range(start, start + count):
        client.apply({"apiVersion": "v1", "kind": "Service",
                      "metadata": {"name": "many-%03d" % i, "namespace": MANY, "labels": {EXPORT_LABEL: "true"}},
                      "spec": {"selector": {"app": "many"}, "ports": [{"name": "http", "port": 8000}]}})


def converged_with(lab, count):
    """Every cluster holds the ServiceEntry of each of the `count` hosts of MANY, with one VIP each, the
    same everywhere, and the same VIP store."""
    hosts = {"many-%03d.%s.global" % (i, MANY) for i in range(count)}
    stores = [vip_store(lab.client(name)) for name in lab.names]
    found = [{name: obj["spec"]["addresses"] for name, obj in entries(lab.client(name)).items() if name in hosts}
             for name in lab.names]
    vips = [vip for addresses in found[0].values() for vip in addresses]
    return (all(store == stores[0] for store in stores) and all(set(f) == hosts for f in found)
            and all(f == found[0] for f in found) and len(vips) == len(set(vips)) == count)


def test_an_api_server_stopped_mid_write_fails_that_cluster_saying_what_was_written_and_the_next_run_converges(
        lab, fleet, ansible_playbook):
    count = MANY_COUNT
    set_exports(lab, {})
    export_many(lab, count)
    second = lab.names[1]
    before = lab.write_requests(second)
    outcome = {}
    run = threading.Thread(target=lambda: outcome.update(run=ansible_playbook("services.yml")))
    run.start()
    try:
        deadline = time.monotonic() + 300
        while lab.write_requests(second) < before + 20 and run.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert run.is_alive(), "the run ended before its writes to %s could be cut" % second
        lab_command("apiserver", second, "stop")
        run.join()
    finally:
        lab_command("apiserver", second, "start")
    result = outcome["run"]
    assert result.rc != 0 and result.recap[second]["failed"] == 1, result.stdout[-4000:]
    assert re.search(r"\d+ write\(s\) made before it, \d+ failed, \d+ not tried", result.text), result.stdout[-4000:]
    assert all(result.recap[name]["failed"] == 0 for name in lab.names if name != second)
    # the next run writes what is missing there, and a run after it writes nothing
    run_services(ansible_playbook)
    assert converged_with(lab, count)
    writes = lab.writes()
    run_services(ansible_playbook)
    assert lab.writes() == writes


def test_two_runs_at_once_end_with_one_allocation_and_the_next_run_converges(lab, fleet, ansible_playbook):
    count = MANY_COUNT
    set_exports(lab, {})
    export_many(lab, count)
    export_many(lab, 20, start=count)  # new hosts: both runs allocate VIPs for them
    client = lab.client(lab.names[0])
    outcomes = [{}, {}]
    runs = [threading.Thread(target=lambda out=out: out.update(run=ansible_playbook("services.yml"))) for out in outcomes]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    for out in outcomes:  # each run converged, or stopped where the other had changed the allocation first
        result = out["run"]
        assert result.rc == 0 or "another run changed the VIP allocation" in result.text, result.stdout[-4000:]
    run_services(ansible_playbook)
    assert converged_with(lab, count + 20)
    for i in range(count + 20):
        client.delete("Service", "many-%03d" % i, MANY)
    client.delete("Namespace", MANY)
    run_services(ansible_playbook)


def test_the_current_store_is_read_where_the_first_cluster_holds_an_older_one(lab, fleet, ansible_playbook):
    first, others = lab.names[0], lab.names[1:]
    set_exports(lab, {first: ["echo"]})
    run_services(ansible_playbook)
    read = lab.client(others[0]).get("ConfigMap", "meshops-vips", "istio-system")
    generation = int(read["metadata"]["annotations"]["multicluster.meshops.io/vip-generation"])
    # A run that reached every cluster but the first (which the play reads in full) moved echo to another VIP.
    current = {host("echo"): "240.10.0.201"}
    for name in others:
        lab.client(name).apply({"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "meshops-vips", "namespace": "istio-system",
                                             "annotations": {"multicluster.meshops.io/vip-generation": str(generation + 1)}},
                                "data": current})
    result = run_services(ansible_playbook)
    assert re.search(r"TASK \[meshops.multicluster.services : Read the VIP store in full[^\n]*\n(skipping[^\n]*\n)*ok: \[%s\]"
                     % others[0], result.stdout), "the current copy is read from the first cluster that holds it"
    for name in lab.names:
        assert vip_store(lab.client(name)) == current == records(lab.client(name)), name
        assert entries(lab.client(name))[host("echo")]["spec"]["addresses"] == ["240.10.0.201"], name


def test_objects_of_others_are_never_touched(lab, fleet):
    for name, before in FOREIGN.items():
        assert untouched(lab.client(name).get("ServiceEntry", "theirs", NS), before), name


def test_uninstall_removes_everything_of_ours(lab, fleet, ansible_playbook, tmp_path):
    set_exports(lab, {lab.names[0]: ["keep"]})
    run_services(ansible_playbook, extra_vars={"mesh_services_namespace_mode": "single",
                                               "mesh_services_namespace": "meshops-services-single"})
    assert is_owned(lab.client(lab.names[1]).get("Namespace", "meshops-services-single"))
    playbook = tmp_path / "uninstall.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Uninstall the services step", "hosts": "mesh_clusters", "gather_facts": False,
        "module_defaults": {"group/meshops.multicluster.k8s": {
            "kubeconfig": "{{ mesh_kubeconfig | default(omit) }}", "context": "{{ mesh_context | default(omit) }}"}},
        "tasks": [{"ansible.builtin.include_role": {"name": "meshops.multicluster.services", "tasks_from": "uninstall"}}],
    }]))
    result = ansible_playbook(str(playbook))
    assert result.rc == 0, result.stdout[-4000:]
    for name in lab.names:
        client = lab.client(name)
        assert entries(client) == {} and vip_store(client) == {} and records(client) == {}
        namespace = client.get("Namespace", "meshops-services-single")
        assert namespace is None or namespace["status"].get("phase") == "Terminating"
        assert client.get("ServiceEntry", "theirs", NS) is not None
