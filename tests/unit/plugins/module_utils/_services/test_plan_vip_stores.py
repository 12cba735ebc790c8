"""What travels between the clusters, the plan and the writers: every cluster reports its copy of the
VIP store by fingerprint, one copy per distinct fingerprint travels in full, and the plan - JSON
text - carries the allocation once."""

import json

import pytest

from ansible_collections.meshops.multicluster.plugins.filter.vip_stores_to_read import vip_stores_to_read
from ansible_collections.meshops.multicluster.plugins.module_utils._services.plan import (
    PlanError, cluster_store, from_text, plan_fleet, to_text)
from ansible_collections.meshops.multicluster.plugins.module_utils._services.vips import (
    store_configmap, store_from_configmap, store_summary)


def fleet(count, exports=20):
    return [{"name": "c%d" % i, "gateway_address": "10.0.0.%d" % (i + 1), "vip_store": None,
             "exports": [{"name": "s%d" % j, "namespace": "ns%d" % i,
                          "ports": [{"name": "http", "number": 8000, "protocol": "HTTP"}]} for j in range(exports)]}
            for i in range(count)]


def read(store, version, full=False):
    """A store as a cluster reports it after a run wrote `store` there."""
    configmap = store_configmap(store)
    configmap["metadata"]["resourceVersion"] = version
    read_back = store_from_configmap(configmap)
    return read_back if full else store_summary(read_back)


def next_run(result, clusters, full=("c0",)):
    """The clusters as the next run gathers them: every copy by fingerprint, `full` ones in full."""
    return [dict(c, vip_store=read(cluster_store(result, c["name"]), "v-" + c["name"], c["name"] in full)) for c in clusters]


def test_every_writer_gets_the_allocation_once_and_its_own_precondition():
    clusters = fleet(3)
    clusters[1]["vip_store"] = read({"allocations": {"s0.ns0.global": "240.10.0.9"}, "generation": 3}, "7", full=True)
    result = json.loads(json.dumps(plan_fleet(clusters)))
    assert result["clusters"]["c1"] == {"vip_store": {"resource_version": "7"}}
    assert cluster_store(result, "c1") == {"allocations": result["allocations"], "generation": 4, "resource_version": "7"}
    assert cluster_store(result, "c0")["resource_version"] == "" and result["allocations"]["s0.ns0.global"] == "240.10.0.9"


def test_a_steady_fleet_needs_one_copy_in_full_and_plans_no_change():
    clusters = fleet(4)
    first = plan_fleet(clusters)
    again = next_run(first, clusters)
    assert vip_stores_to_read(again) == []
    second = plan_fleet(again)
    assert second["allocations"] == first["allocations"] and second["generation"] == first["generation"] == 1
    assert second["clusters"]["c2"]["vip_store"] == {"resource_version": "v-c2"}


def test_without_a_copy_in_full_the_first_holder_of_each_distinct_copy_is_read():
    clusters = fleet(4)
    first = plan_fleet(clusters)
    again = next_run(first, clusters, full=())
    # c3 holds a copy of the same generation that differs (a run that finished only part of the fleet)
    again[3]["vip_store"] = read(dict(cluster_store(first, "c3"), allocations={"s0.ns0.global": "240.10.0.77"}), "x")
    # c2 missed the last runs: a lower generation is never read
    again[2]["vip_store"] = read({"allocations": {"old.ns.global": "240.10.0.1"}, "generation": 0}, "y")
    assert vip_stores_to_read(again) == ["c0", "c3"]
    full = [read(cluster_store(first, "c0"), "v-c0", full=True),
            read(dict(cluster_store(first, "c3"), allocations={"s0.ns0.global": "240.10.0.77"}), "x", full=True)]
    result = plan_fleet(again, vip_stores=full)
    assert result["allocations"]["s0.ns0.global"] != "240.10.0.77"
    assert all(result["allocations"][h] == vip for h, vip in first["allocations"].items() if h != "s0.ns0.global")
    assert any("disagree about s0.ns0.global" in warning for warning in result["warnings"])
    assert result["generation"] == first["generation"] + 1


def test_a_copy_that_changed_between_the_reads_fails_the_plan_naming_the_cluster():
    clusters = fleet(2)
    first = plan_fleet(clusters)
    again = next_run(first, clusters, full=())
    changed = read(dict(cluster_store(first, "c0"), allocations={}), "v-c0", full=True)
    with pytest.raises(PlanError, match=r"VIP store of cluster\(s\) c0, c1 changed while this run read it"):
        plan_fleet(again, vip_stores=[changed])


def test_what_travels_grows_with_hosts_plus_clusters_not_their_product():
    def sizes(count):
        clusters = fleet(count)
        gathered = next_run(plan_fleet(clusters), clusters)
        return len(json.dumps(gathered)), len(json.dumps(plan_fleet(gathered)))
    (gather_small, plan_small), (gather_large, plan_large) = sizes(4), sizes(16)
    # 4x the clusters and 4x the hosts: about 4x, where clusters x hosts would be 16x
    assert gather_large < 4.5 * gather_small and plan_large < 4.5 * plan_small


def test_the_plan_travels_as_text_and_writers_also_take_it_as_a_structure():
    result = plan_fleet(fleet(3))
    text = to_text(result)
    assert isinstance(text, str) and from_text(text) == json.loads(json.dumps(result))
    assert from_text(result) is result
    with pytest.raises(PlanError, match="plan is not the JSON text of a service_entry_plan result"):
        from_text(text[:-1])


def test_stores_not_read_by_mesh_services_info_fail_the_plan_naming_them():
    clusters = fleet(2)
    clusters[1]["vip_store"] = {"allocations": {}, "generation": 1}
    with pytest.raises(PlanError) as failed:
        plan_fleet(clusters, vip_stores=[{"digest": "x"}])
    assert "clusters[c1].vip_store has no digest" in str(failed.value)
    assert "vip_stores[0] has no allocations" in str(failed.value)
