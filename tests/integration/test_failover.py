"""Failover of a service exported from several clusters, as the lab's real istiod hands it to proxies.

The lab's clusters have the localities lab-east/zone1, lab-west/zone2 and lab-east/zone3. The
Service `db` of namespace NS is exported from cluster1 and cluster2; the xDS probe asks each
cluster's istiod what a sidecar there is told about `db.<NS>.global`.
"""

from __future__ import annotations

import time

import pytest

from lab.istio_tools import xds

from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.gateway import gateway_address
from ansible_collections.meshops.multicluster.plugins.module_utils._services.exports import EXPORT_LABEL

NS = "meshops-failover"
HOST, PORT = f"db.{NS}.global", 8000
LOCAL = f"db.{NS}.svc.cluster.local"


def export_db(lab, clusters):
    for name in lab.names:
        client = lab.client(name)
        client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        labels = {"app": "db", **({EXPORT_LABEL: "true"} if name in clusters else {})}
        client.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": NS, "labels": labels},
                      "spec": {"selector": {"app": "db"}, "ports": [{"name": "http", "port": PORT, "targetPort": 8080}]}})


def gateways(lab):
    return {name: gateway_address(lab.client(name).get("Service", "istio-eastwestgateway", "istio-system"))[0]
            for name in lab.names}


def told(lab, name, want=None, timeout=60):
    """{(address, port): priority} of the db cluster a sidecar in `name` receives; waits (istiod
    pushes a few seconds after a change) until it equals `want` when given."""
    deadline = time.monotonic() + timeout
    while True:
        probe = xds(name, namespace="default")
        cluster = next((c for c in probe["clusters"] if c["name"] == f"outbound|{PORT}||{HOST}"), None)
        found = {} if cluster is None else {
            (lb["endpoint"]["address"]["socketAddress"]["address"], lb["endpoint"]["address"]["socketAddress"]["portValue"]):
                group.get("priority", 0)
            for group in cluster.get("loadAssignment", {}).get("endpoints", []) for lb in group.get("lbEndpoints", [])}
        if want is None or found == want or time.monotonic() > deadline:
            return found, cluster
        time.sleep(3)


@pytest.fixture(scope="module")
def exported(lab, ansible_playbook):
    export_db(lab, lab.names[:2])
    run = ansible_playbook("site.yml")
    assert run.rc == 0, run.stdout[-4000:]
    yield gateways(lab)
    for name in lab.names:
        lab.client(name).delete("Namespace", NS)
    ansible_playbook("services.yml")


def test_an_exporting_cluster_prefers_its_own_endpoint_then_the_other_gateway(lab, exported):
    first, second = lab.names[:2]
    want = {(LOCAL, PORT): 0, (exported[second], 15443): 1}
    found, cluster = told(lab, first, want)
    assert found == want
    assert cluster["outlierDetection"]["consecutive5xx"] == 5  # failover needs outlier detection
    assert told(lab, second, {(LOCAL, PORT): 0, (exported[first], 15443): 1})[0] == \
        {(LOCAL, PORT): 0, (exported[first], 15443): 1}


def test_an_importing_cluster_gets_both_gateways_nearest_region_first(lab, exported):
    first, second, third = lab.names[:3]
    want = {(exported[first], 15443): 0, (exported[second], 15443): 1}  # cluster3 shares lab-east with cluster1
    assert told(lab, third, want)[0] == want


def test_a_second_run_writes_nothing(lab, exported, ansible_playbook):
    before = lab.writes()
    run = ansible_playbook("services.yml")
    assert run.rc == 0 and run.changed == 0, run.stdout[-3000:]
    assert lab.writes() == before


def test_bad_policy_fails_before_any_write_naming_the_variable(lab, exported, ansible_playbook):
    before = lab.writes()
    run = ansible_playbook("services.yml", extra_vars={"mesh_services_outlier_interval": "ten"})
    assert run.rc != 0 and "mesh_services_outlier_interval 'ten' is not a duration" in run.text
    run = ansible_playbook("services.yml", extra_vars={"mesh_services_failover": "nearest"})
    assert run.rc != 0 and "mesh_services_failover" in run.text and "nearest" in run.text
    assert lab.writes() == before


def test_without_failover_the_priorities_are_gone(lab, exported, ansible_playbook):
    first, second, third = lab.names[:3]
    run = ansible_playbook("services.yml", extra_vars={"mesh_services_failover": "none"})
    assert run.rc == 0, run.stdout[-3000:]
    want = {(exported[first], 15443): 0, (exported[second], 15443): 0}
    assert told(lab, third, want)[0] == want
    run = ansible_playbook("services.yml")
    assert run.rc == 0, run.stdout[-3000:]
    assert told(lab, third, {(exported[first], 15443): 0, (exported[second], 15443): 1})[0] == \
        {(exported[first], 15443): 0, (exported[second], 15443): 1}


def test_unexport_from_one_cluster_keeps_the_other_and_recomputes(lab, exported, ansible_playbook):
    first, second, third = lab.names[:3]
    export_db(lab, [second])
    run = ansible_playbook("services.yml")
    assert run.rc == 0, run.stdout[-3000:]
    assert told(lab, third, {(exported[second], 15443): 0})[0] == {(exported[second], 15443): 0}
    assert told(lab, first, {(exported[second], 15443): 0})[0] == {(exported[second], 15443): 0}
    assert told(lab, second, {(LOCAL, PORT): 0})[0] == {(LOCAL, PORT): 0}
