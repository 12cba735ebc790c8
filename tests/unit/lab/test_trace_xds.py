"""Hop 9 of the lab's trace: the sidecar's outbound cluster and the gateway's SNI cluster, judged from
Envoy's JSON as the xDS probe returns it."""

from lab.trace import gateway_row, sidecar_row

HOST = "httpbin.bar.global"
ENTRY = {"metadata": {"annotations": {}}, "spec": {"ports": [{"name": "http", "number": 8000, "protocol": "HTTP"}],
         "endpoints": [{"address": "127.181.0.1", "ports": {"http": 15443}},
                       {"address": "httpbin.bar.svc.cluster.local", "ports": {"http": 8000}}]}}


def cluster(name, sni, *addresses):
    return {"name": name, "transportSocket": {"typedConfig": {"sni": sni}},
            "loadAssignment": {"endpoints": [{"lbEndpoints": [
                {"endpoint": {"address": {"socketAddress": {"address": a, "portValue": p}}}} for a, p in addresses]}]}}


def test_the_sidecar_cluster_passes_with_mutual_tls_and_the_remote_gateways():
    probe = {"clusters": [cluster("outbound|8000||" + HOST, "outbound_.8000_._." + HOST, ("127.181.0.1", 15443),
                                  ("httpbin.bar.svc.cluster.local", 8000))]}
    row = sidecar_row("cluster2", HOST, ENTRY, probe)
    assert row["status"] == "PASS" and "mTLS SNI outbound_.8000_._.httpbin.bar.global" in row["evidence"][0]


def test_a_missing_gateway_endpoint_or_cluster_fails():
    probe = {"clusters": [cluster("outbound|8000||" + HOST, "outbound_.8000_._." + HOST, ("127.0.0.99", 15443))]}
    row = sidecar_row("cluster2", HOST, ENTRY, probe)
    assert row["status"] == "FAIL" and "lacks 127.181.0.1:15443" in row["evidence"][0]
    assert sidecar_row("cluster2", HOST, ENTRY, {"clusters": []})["status"] == "FAIL"


def test_the_gateway_needs_the_sni_cluster_of_every_port():
    ports = ENTRY["spec"]["ports"]
    assert gateway_row("cluster1", HOST, ports, {"clusters": [{"name": "outbound_.8000_._." + HOST}]})["status"] == "PASS"
    row = gateway_row("cluster1", HOST, ports, {"clusters": []})
    assert row["status"] == "FAIL" and "AUTO_PASSTHROUGH" in row["evidence"][0]
