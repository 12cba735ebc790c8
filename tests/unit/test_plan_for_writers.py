"""What the plan carries to every cluster's writer: each cluster's VIP store once, not per cluster."""

import json

from ansible_collections.meshops.multicluster.plugins.module_utils.fleet_plan import cluster_store, for_writers, plan
from ansible_collections.meshops.multicluster.plugins.module_utils.vip_allocation import store_from_configmap


def fleet(count, exports=20):
    return [{"name": "c%d" % i, "gateway_address": "10.0.0.%d" % (i + 1), "vip_store": None,
             "exports": [{"name": "s%d" % j, "namespace": "ns%d" % i,
                          "ports": [{"name": "http", "number": 8000, "protocol": "HTTP"}]} for j in range(exports)]}
            for i in range(count)]


def test_every_writer_gets_the_store_plan_computed_for_its_cluster():
    configmap = {"metadata": {"resourceVersion": "7", "annotations": {"multicluster.meshops.io/vip-generation": "3"}},
                 "data": {"s0.ns0.global": "240.10.0.9"}}
    clusters = fleet(3)
    clusters[1]["vip_store"] = store_from_configmap(configmap)
    result = plan(clusters)
    travelling = json.loads(json.dumps(for_writers(result)))
    for name in ("c0", "c1", "c2"):
        assert cluster_store(travelling, name) == cluster_store(result, name) == result["clusters"][name]["vip_store"]
    assert travelling["clusters"]["c1"] == {"vip_store": {"resource_version": "7"}}
    assert {k: v for k, v in travelling.items() if k != "clusters"} == {k: v for k, v in result.items() if k != "clusters"}


def test_the_travelling_plan_grows_with_hosts_plus_clusters_not_their_product():
    small, large = (len(json.dumps(for_writers(plan(fleet(n))))) for n in (4, 16))
    assert large < 4.5 * small
