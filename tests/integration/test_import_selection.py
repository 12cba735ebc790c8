"""Import selection against the lab's real API servers (Istio's CRDs installed): a Service's
annotation multicluster.meshops.io/export-to and a cluster's mesh_services_import_from_* decide
which clusters hold the Service's ServiceEntry and DestinationRule.

Test Services live in the namespace NS of the cluster that exports them; the step replicates NS
where it needs it. Groups and host_vars come from a copy of the lab's inventory.
"""

from __future__ import annotations

import json

import pytest
import yaml
from services_lab import ensure_gateways, ensure_namespace, entries, records, run_services, vip_store

from ansible_collections.meshops.multicluster.plugins.module_utils._services.exports import (
    EXPORT_LABEL, EXPORT_TO_ANNOTATION)

NS = "meshops-select-test"


def host(name):
    return "%s.%s.global" % (name, NS)


def local(name):
    return "%s.%s.svc.cluster.local" % (name, NS)


def publish(lab, cluster, name, export_to=None):
    """Service `name` in NS of `cluster`, exported, with the export-to annotation when given
    (server-side apply drops an annotation given before)."""
    client = lab.client(cluster)
    ensure_namespace(client, NS)
    metadata = {"name": name, "namespace": NS, "labels": {EXPORT_LABEL: "true"}}
    if export_to is not None:
        metadata["annotations"] = {EXPORT_TO_ANNOTATION: export_to}
    client.apply({"apiVersion": "v1", "kind": "Service", "metadata": metadata,
                  "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 8000}]}})


def held(lab, cluster):
    """{host: endpoint addresses} of the test's hosts a cluster holds; each has its DestinationRule."""
    client = lab.client(cluster)
    found = {name: [endpoint["address"] for endpoint in obj["spec"]["endpoints"]]
             for name, obj in entries(client).items() if name.endswith(host(""))}
    rules = {name for name in entries(client, "DestinationRule") if name.endswith(host(""))}
    assert rules == set(found), "%s: DestinationRules %s beside ServiceEntries %s" % (cluster, rules, set(found))
    return found


def versions(lab):
    """resourceVersion of every object of this step in every cluster (what any write would change)."""
    return {name: {(kind, key): obj["metadata"]["resourceVersion"] for kind in ("ServiceEntry", "DestinationRule")
                   for key, obj in entries(lab.client(name), kind).items()} for name in lab.names}


def inventory(lab, tmp_path, groups=None, host_vars=None):
    """The lab's inventory with further groups ({group: [clusters]}) and host_vars ({cluster: {var: value}})."""
    doc = yaml.safe_load(open(lab.inventory))
    for cluster, values in (host_vars or {}).items():
        doc["mesh_clusters"]["hosts"][cluster].update(values)
    for group, members in (groups or {}).items():
        doc[group] = {"hosts": {member: None for member in members}}
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def assert_second_run_changes_nothing(lab, ansible_playbook, **kwargs):
    before = lab.writes()
    again = run_services(ansible_playbook, **kwargs)
    assert again.changed == 0 and lab.writes() == before, again.stdout[-3000:]


@pytest.fixture
def gateways(lab, ansible_playbook):
    return ensure_gateways(lab, ansible_playbook)


def withdraw(lab):
    """Delete the test Services of every cluster."""
    for name in lab.names:
        client = lab.client(name)
        for service in client.list("Service", NS):
            client.delete("Service", service["metadata"]["name"], NS)


@pytest.fixture(autouse=True)
def only_this_tests_exports(lab):
    withdraw(lab)


@pytest.fixture(scope="module", autouse=True)
def leave_no_export(lab, ansible_playbook):
    """The test Services go, one run prunes what they left in every cluster, then NS goes."""
    yield
    withdraw(lab)
    run_services(ansible_playbook)
    for name in lab.names:
        lab.client(name).delete("Namespace", NS)


def test_a_service_exported_to_one_other_cluster_is_held_there_and_by_its_exporter_only(
        lab, gateways, ansible_playbook):
    first, second, third = lab.names[:3]
    publish(lab, first, "echo", export_to=second)
    run_services(ansible_playbook)

    assert held(lab, first) == {host("echo"): [local("echo")]}
    assert held(lab, second) == {host("echo"): [gateways[first]]}
    assert held(lab, third) == {}
    # the VIP and the .global record are the host's, the same in every cluster
    vip = vip_store(lab.client(first))[host("echo")]
    for name in lab.names:
        assert vip_store(lab.client(name))[host("echo")] == vip == records(lab.client(name))[host("echo")], name
    assert_second_run_changes_nothing(lab, ansible_playbook)


def test_a_changed_selection_converges_in_one_run_and_keeps_the_vip(lab, gateways, ansible_playbook, tmp_path):
    first, second, third = lab.names[:3]
    publish(lab, first, "echo", export_to=second)
    run_services(ansible_playbook)
    vip = vip_store(lab.client(first))[host("echo")]

    # to an inventory group that holds only the third cluster: the second loses the entry, its rule
    # and the namespace made for them, the third gets them, in the same run
    publish(lab, first, "echo", export_to="group:select_west")
    west = inventory(lab, tmp_path, groups={"select_west": [third]})
    before = lab.writes()
    dry = ansible_playbook("services.yml", "--check", "--diff", inventory=west)
    assert dry.rc == 0 and lab.writes() == before, dry.stdout[-3000:]
    assert [dry.recap[name]["changed"] for name in (first, second, third)] == [0, 1, 1]
    assert "ServiceEntry %s/%s" % (NS, host("echo")) in dry.stdout
    run_services(ansible_playbook, inventory=west)
    assert held(lab, first) == {host("echo"): [local("echo")]}
    assert held(lab, second) == {}
    assert held(lab, third) == {host("echo"): [gateways[first]]}
    assert ((lab.client(second).get("Namespace", NS) or {}).get("status") or {}).get("phase") in (None, "Terminating")
    assert all(vip_store(lab.client(name))[host("echo")] == vip for name in lab.names), "VIPs must not change"
    assert_second_run_changes_nothing(lab, ansible_playbook, inventory=west)


def test_a_cluster_imports_only_what_its_host_vars_select_and_keeps_its_own(
        lab, gateways, ansible_playbook, tmp_path):
    first, second, third = lab.names[:3]
    publish(lab, first, "echo")
    publish(lab, second, "keep")
    narrowed = inventory(lab, tmp_path, host_vars={
        third: {"mesh_services_import_from_clusters": [second]},
        second: {"mesh_services_import_from_namespaces": ["elsewhere"]}})
    run_services(ansible_playbook, inventory=narrowed)

    assert held(lab, first) == {host("echo"): [local("echo")], host("keep"): [gateways[second]]}
    assert held(lab, second) == {host("keep"): [local("keep")]}
    assert held(lab, third) == {host("keep"): [gateways[second]]}
    assert_second_run_changes_nothing(lab, ansible_playbook, inventory=narrowed)
    # without the host_vars, everyone imports everything again
    run_services(ansible_playbook)
    assert all(set(held(lab, name)) == {host("echo"), host("keep")} for name in lab.names)


def fleet_check(lab, ansible_playbook):
    """The fleet report's services part of every cluster: {cluster: (ServiceEntries, DestinationRules, imports)}.
    (The lab of these tests has no trust or DNS step: only what the services step decides is read.)"""
    run = ansible_playbook("verify.yml", extra_vars={"mesh_verify_fail": False, "mesh_verify_dns_wait": 0})
    assert run.rc == 0, run.stdout[-3000:]
    model = json.loads((lab.dir / "reports" / "mesh-report.json").read_text())
    return {c["name"]: (c["results"]["service_entries"]["detail"], c["results"]["destination_rules"]["detail"],
                        [(i["host"], i["from"]) for i in c["imports"] if i["host"].endswith(host(""))])
            for c in model["clusters"]}


def test_the_fleet_check_compares_each_cluster_with_what_it_imports(lab, gateways, ansible_playbook):
    first, second, third = lab.names[:3]
    publish(lab, first, "echo", export_to=second)
    run_services(ansible_playbook)
    entry = lab.client(second).get("ServiceEntry", host("echo"), NS)
    checked = fleet_check(lab, ansible_playbook)
    assert checked[second][2] == [(host("echo"), [first])] and checked[third][2] == []
    assert all(found.endswith("as desired") and rules.endswith("as desired")
               for found, rules, _imports in checked.values())

    # an entry of ours where the selection says none is stale there, and only there
    ensure_namespace(lab.client(third), NS)
    kept = ("name", "namespace", "labels", "annotations")
    lab.client(third).apply({"apiVersion": entry["apiVersion"], "kind": "ServiceEntry", "spec": entry["spec"],
                             "metadata": {key: entry["metadata"][key] for key in kept}})
    checked = fleet_check(lab, ansible_playbook)
    assert checked[third][:2] == ("0 missing, 0 different, 1 stale", "0 as desired")
    assert all("as desired" in checked[name][0] for name in (first, second))
    run_services(ansible_playbook)
    assert held(lab, third) == {}


def test_bad_host_vars_fail_before_any_write_and_bad_annotations_degrade_only_their_service(
        lab, gateways, ansible_playbook, tmp_path):
    first, second, third = lab.names[:3]
    publish(lab, first, "echo", export_to=second)
    publish(lab, second, "keep")
    run_services(ansible_playbook)
    written = versions(lab)

    publish(lab, first, "echo", export_to="%s,cluster9" % second)
    publish(lab, second, "keep", export_to="%s,,group:nowhere" % third)
    # the inventory's own variables are refused before any write
    before = lab.writes()
    result = ansible_playbook("services.yml", inventory=inventory(lab, tmp_path, host_vars={
        third: {"mesh_services_import_from_clusters": [first, "cluster8"]}}))
    assert result.rc != 0
    assert "cluster %s: mesh_services_import_from_clusters names 'cluster8', which is not a cluster of the mesh" \
        % third in result.text, result.stdout[-4000:]
    assert lab.writes() == before and versions(lab) == written

    # the annotations are their Services' owners' input: a name that is not a cluster is left out (echo
    # still goes to the second cluster), a malformed value holds keep back; both warn, the run succeeds
    result = run_services(ansible_playbook)
    warnings = " ".join(result.stderr.split())
    prefix = "annotation %s=" % EXPORT_TO_ANNOTATION
    for message in (
            "cluster %s: Service %s/echo: %s'%s,cluster9': cluster 'cluster9' is not a cluster of the mesh; "
            "expected one of %s: left out, the rest applies" % (first, NS, prefix, second, ", ".join(sorted(lab.names))),
            "cluster %s: Service %s/keep: %s'%s,,group:nowhere': item 2 '' is empty; expected a comma-separated "
            "list of cluster names and group:<inventory group>" % (second, NS, prefix, third),
            "host %s keeps its current ServiceEntries and DestinationRules in every cluster" % host("keep")):
        assert "".join(message.split()) in "".join(warnings.split()), result.stderr[-4000:]
    assert versions(lab) == written
    assert held(lab, second) == {host("echo"): [gateways[first]], host("keep"): [local("keep")]}
