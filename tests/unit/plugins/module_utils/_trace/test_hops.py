"""The trace's judgement: a healthy path passes every hop, and each break the issue lists is found at
its hop, with the fix, and no hop before it fails."""

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import InputError
from ansible_collections.meshops.multicluster.plugins.module_utils._services.plan import plan_fleet
from ansible_collections.meshops.multicluster.plugins.module_utils._services.render import render_entries
from ansible_collections.meshops.multicluster.plugins.module_utils._trace.hops import (
    FAIL, PASS, SKIP, UNKNOWN_GATEWAY, Trace, broken_hop, table, tables, trace_fleet, trace_host)
from ansible_collections.meshops.multicluster.plugins.module_utils._trace.reading import parse_host
from ansible_collections.meshops.multicluster.plugins.module_utils._trust import pki

HOST = "httpbin.bar.global"
LABEL = "multicluster.meshops.io/export"
CLUSTERS = ("c1", "c2", "c3")
GATEWAYS = {"c1": "127.181.0.1", "c2": "127.182.0.1", "c3": "127.183.0.1"}


def export(export_to=None):
    found = {"name": "httpbin", "namespace": "bar", "ports": [{"name": "http", "number": 8000, "protocol": "HTTP"}]}
    if export_to is not None:
        found["export_to"] = export_to
    return found


def make_plan(exporters=("c1",), export_to=None, gateways=None):
    gateways = dict(GATEWAYS, **(gateways or {}))
    return plan_fleet([{"name": c, "exports": [export(export_to)] if c in exporters else [],
                        "gateway_address": gateways[c], "locality": "region%s/zone" % c[1:], "vip_store": None}
                       for c in CLUSTERS], cluster_groups={c: ["mesh_clusters"] for c in CLUSTERS})


@pytest.fixture(scope="module")
def roots():
    """The fleet's root, another root, and each cluster's intermediate (cacerts summary) from the fleet's root."""
    root, other = pki.generate_root("ec"), pki.generate_root("ec", common_name="Other Root")
    return root, other


def summary(root, cluster):
    return pki.summary(pki.issue_intermediate(root, cluster, key_type="ec"))


def reading(plan, cluster, root):
    """What read_for_trace finds in a healthy cluster that holds what the plan says."""
    entries = [e for e in render_entries(plan, cluster) if e["metadata"]["name"] == HOST]
    exported = cluster in next((s["clusters"] for s in plan["services"] if s["host"] == HOST), [])
    vip = plan["allocations"].get(HOST)
    host = {
        "service": {"labels": {LABEL: "true"}, "export_to": None, "ports": [], "problems": []} if exported else None,
        "namespace": {"exists": True, "phase": "Active", "labels": {"team": "bar"}},
        "endpoints": {"ready": 2 if exported else 0, "not_ready": 0},
        "entries": [dict(name=e["metadata"]["name"], namespace=e["metadata"]["namespace"], exported_from="",
                         addresses=e["spec"]["addresses"], ports=e["spec"]["ports"], endpoints=e["spec"]["endpoints"])
                    for e in entries],
        "rules": [dict(name=HOST, namespace="bar", tls_mode="ISTIO_MUTUAL", locality_lb=True,
                       outlier={"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s",
                                "maxEjectionPercent": 100})] if entries else [],
        "dns": {"zone_server": True, "record": vip, "answer": [vip]},
        "istiod": {"service": "istiod-1-31-0", "registered": True, "addresses": [vip],
                   "endpoints": [{"address": "%s:15443" % GATEWAYS[c], "tls_mode": "istio"} for c in CLUSTERS if c != cluster]},
    }
    return {
        "hosts": {HOST: host},
        "mesh_config": {"dns_capture": False, "discovery_selectors": []},
        "gateway": {"exists": True, "address": {"address": GATEWAYS[cluster], "port": 15443, "source": "load balancer IP"},
                    "problem": "", "ports": [15021, 15443], "not_ready": "",
                    "routing": [{"port": 15443, "mode": "AUTO_PASSTHROUGH", "hosts": ["*.global"]}]},
        "roots": [pki.describe(root.cert)],
        "intermediate": summary(root, cluster),
    }


def run(plan, readings, source="c2", **kwargs):
    rows = trace_host(Trace(HOST, source, plan, readings, LABEL, dns_delegated=kwargs.pop("dns_delegated", True)), **kwargs)
    return rows, broken_hop(rows)


def healthy(roots, plan=None):
    plan = plan or make_plan()
    return plan, {c: reading(plan, c, roots[0]) for c in CLUSTERS}


def assert_breaks_at(rows, broken, hop, fix_words):
    assert broken is not None and broken["hop"] == hop, table(rows)
    assert all(r["status"] != FAIL for r in rows if r["hop"] < hop)
    assert all(r["status"] == SKIP for r in rows if r["hop"] > hop)
    assert fix_words in broken["fix"]


def test_a_healthy_host_passes_every_hop(roots):
    plan, readings = healthy(roots)
    rows, broken = run(plan, readings)
    assert broken is None, table(rows)
    assert [r["hop"] for r in rows] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert {r["status"] for r in rows} == {PASS}
    assert any("127.181.0.1:15443 (c1) region1/zone" in line for r in rows for line in r["evidence"])


def test_every_direction_between_two_exporters_passes(roots):
    plan, readings = healthy(roots, make_plan(exporters=("c1", "c3")))
    for source in CLUSTERS:
        rows, broken = run(plan, readings, source=source)
        assert broken is None, table(rows)
        # trust and the exporter's side: one row per exporter; the gateway: one per remote exporter
        assert len([r for r in rows if r["hop"] == 6]) == 2
        assert len([r for r in rows if r["hop"] == 7]) == (1 if source in ("c1", "c3") else 2)


def test_an_unlabelled_service_breaks_at_export(roots):
    plan, readings = healthy(roots)
    unlabelled = make_plan(exporters=())
    readings["c1"]["hosts"][HOST]["service"]["labels"] = {}
    rows, broken = run(unlabelled, readings)
    assert_breaks_at(rows, broken, 1, "label the Service multicluster.meshops.io/export=true")
    assert "c1: Service bar/httpbin, label multicluster.meshops.io/export=(absent)" in broken["evidence"][1]


def test_a_selection_that_leaves_the_source_out_breaks_at_export(roots):
    plan, readings = healthy(roots, make_plan(export_to="c3"))
    rows, broken = run(plan, readings)
    assert_breaks_at(rows, broken, 1, "export-to annotation")
    assert broken["cluster"] == "c2"


def test_a_missing_zone_record_breaks_at_dns(roots):
    plan, readings = healthy(roots)
    readings["c2"]["hosts"][HOST]["dns"]["record"] = None
    rows, broken = run(plan, readings)
    assert_breaks_at(rows, broken, 2, "playbooks/services.yml")
    assert "holds no record for httpbin.bar.global" in broken["evidence"][0]


def test_a_missing_delegation_breaks_at_dns(roots):
    plan, readings = healthy(roots)
    rows, broken = run(plan, readings, dns_delegated=False)
    assert_breaks_at(rows, broken, 2, "playbooks/dns.yml")


def test_a_stale_gateway_address_in_the_entry_breaks_at_service_entry(roots):
    old = make_plan()
    _plan, readings = healthy(roots, old)
    moved = make_plan(gateways={"c1": "127.181.0.9"})
    readings["c1"]["gateway"]["address"]["address"] = "127.181.0.9"
    rows, broken = run(moved, readings)
    assert_breaks_at(rows, broken, 3, "playbooks/services.yml")
    assert any("lacks endpoint 127.181.0.9:15443 (c1)" in line for line in broken["evidence"])
    assert any("endpoint 127.181.0.1:15443 region1/zone is no exporter's gateway now (stale)" in line
               for line in broken["evidence"])


def test_a_deleted_destination_rule_breaks_at_destination_rule(roots):
    plan, readings = healthy(roots)
    readings["c2"]["hosts"][HOST]["rules"] = []
    rows, broken = run(plan, readings)
    assert_breaks_at(rows, broken, 4, "playbooks/services.yml")


def test_istiod_without_the_host_breaks_at_istiod_and_no_debug_view_skips(roots):
    plan, readings = healthy(roots)
    readings["c2"]["hosts"][HOST]["istiod"]["endpoints"][0]["tls_mode"] = "disabled"
    rows, broken = run(plan, readings)
    assert_breaks_at(rows, broken, 5, "istiod")
    # The identity may not port-forward to istiod's pod: not the request path's fault.
    readings["c2"]["hosts"][HOST]["istiod"] = {"service": "istiod", "error": "403 forbidden", "status": 403}
    rows, broken = run(plan, readings)
    hop5 = next(r for r in rows if r["hop"] == 5)
    assert broken is None and hop5["status"] == SKIP and "option istiod_debug" in hop5["fix"]
    # Debug views of a shape this collection does not know (another Istio): said, not judged.
    readings["c2"]["hosts"][HOST]["istiod"] = {"service": "istiod", "pod": "istiod-1", "malformed": True, "status": None,
                                               "error": "a service of /debug/registryz has no hostname"}
    rows, broken = run(plan, readings)
    hop5 = next(r for r in rows if r["hop"] == 5)
    assert broken is None and hop5["status"] == SKIP and "port-forward deploy/istiod 15014" in hop5["fix"]


def test_an_istiod_that_cannot_be_reached_breaks_at_istiod(roots):
    plan, readings = healthy(roots)
    for error in ("no ready pod of istiod (app=istiod,istio.io/rev=default) in istio-system",
                  "pod istiod-1 answered /debug/registryz with HTTP 503"):
        readings["c2"]["hosts"][HOST]["istiod"] = {"service": "istiod", "error": error, "status": None}
        rows, broken = run(plan, readings)
        assert_breaks_at(rows, broken, 5, "runs and is Ready")
        assert error in broken["evidence"][0]


def test_a_different_root_in_one_cluster_breaks_at_trust(roots):
    plan, readings = healthy(roots)
    readings["c1"]["intermediate"] = summary(roots[1], "c1")
    rows, broken = run(plan, readings)
    assert_breaks_at(rows, broken, 6, "playbooks/trust.yml")
    assert broken["cluster"] == "c1" and "which c2's root bundle lacks" in broken["evidence"][1]


def test_an_exporter_that_does_not_trust_the_sources_root_breaks_at_trust(roots):
    plan, readings = healthy(roots)
    # The source signs with a new root that it trusts beside the old one; the exporter trusts only the old.
    readings["c2"]["intermediate"] = summary(roots[1], "c2")
    readings["c2"]["roots"] = [pki.describe(roots[0].cert), pki.describe(roots[1].cert)]
    rows, broken = run(plan, readings)
    assert_breaks_at(rows, broken, 6, "playbooks/trust.yml")
    assert broken["cluster"] == "c1" and "c1 refuses c2's sidecars" in broken["evidence"][1]


def test_a_gateway_without_an_address_breaks_at_gateway(roots):
    plan, readings = healthy(roots)
    unknown = make_plan(gateways={"c1": UNKNOWN_GATEWAY})
    readings["c1"]["gateway"].update(address=None, problem="Service istio-system/istio-eastwestgateway has no address")
    rows, broken = run(unknown, readings)
    assert_breaks_at(rows, broken, 7, "mesh_gateway_address_override")
    assert broken["cluster"] == "c1"


def test_a_service_without_ready_endpoints_breaks_at_the_exporter(roots):
    plan, readings = healthy(roots)
    readings["c1"]["hosts"][HOST]["endpoints"] = {"ready": 0, "not_ready": 1}
    rows, broken = run(plan, readings)
    assert_breaks_at(rows, broken, 8, "Ready")
    rows, broken = run(plan, readings, ready_endpoints=False)
    assert broken is None


def test_the_table_shows_the_fix_under_the_broken_hop(roots):
    plan, readings = healthy(roots)
    readings["c2"]["hosts"][HOST]["rules"] = []
    lines = table(run(plan, readings)[0])
    assert lines[0].split() == ["hop", "cluster", "status", "evidence"]
    assert any(line.strip().startswith("fix: run playbooks/services.yml") for line in lines)
    assert lines[-1].split()[:4] == ["8", "exporter", "-", "SKIP"]


def test_the_trace_keeps_its_inputs(roots):
    plan, readings = healthy(roots)
    before = copy.deepcopy((plan, readings))
    run(plan, readings)
    assert (plan, readings) == before


LABEL_CHARS = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=70)


@given(LABEL_CHARS, LABEL_CHARS, st.sampled_from(["global", "global.", "globalx", "Global", "global\n"]))
def test_parse_host_takes_only_whole_dns_label_hosts(name, namespace, zone):
    host = "%s.%s.%s" % (name, namespace, zone)
    valid = all(len(part) <= 63 and part[0] != "-" and part[-1] != "-" for part in (name, namespace)) and zone == "global"
    if valid:
        assert parse_host(host) == (name, namespace)
    else:
        with pytest.raises(InputError) as error:
            parse_host(host)
        assert repr(host) in str(error.value)


@given(st.text(max_size=40))
def test_parse_host_never_raises_anything_else(text):
    try:
        parse_host(text)
    except InputError:
        pass


def test_without_sources_every_importer_is_traced_and_each_gets_a_titled_table(roots):
    plan, readings = healthy(roots, make_plan(export_to="c3"))
    traces = trace_fleet([HOST], [], plan, readings, LABEL, dns_delegated={"c1": True, "c3": True})
    assert [(t["source"], t["ok"]) for t in traces] == [("c1", True), ("c3", True)]
    lines = tables(traces)
    assert lines[0] == "== httpbin.bar.global from c1: every hop passes" and "" in lines
    from_c2 = trace_fleet([HOST], ["c2"], plan, readings, LABEL)[0]
    assert from_c2["broken"]["hop"] == 1 and "c2 imports httpbin.bar.global from none of them" in from_c2["broken"]["evidence"]


def test_the_sidecar_dns_proxy_passes_dns_only_when_istiod_turns_it_on(roots):
    plan, readings = healthy(roots)
    rows = trace_host(Trace(HOST, "c2", plan, readings, LABEL, dns_mode="sidecar_proxy"))
    assert broken_hop(rows)["hop"] == 2 and "ISTIO_META_DNS_CAPTURE" in broken_hop(rows)["evidence"][0]
    readings["c2"]["mesh_config"]["dns_capture"] = True
    assert broken_hop(trace_host(Trace(HOST, "c2", plan, readings, LABEL, dns_mode="sidecar_proxy"))) is None


def test_a_cluster_not_read_fails_the_first_hop_that_needs_it(roots):
    plan, readings = healthy(roots)
    rows, broken = run(plan, {c: r for c, r in readings.items() if c != "c1"})
    assert_breaks_at(rows, broken, 6, "API server")
    assert broken["cluster"] == "c1" and broken["evidence"] == ["c1 was not read in this run"]
    rows, broken = run(plan, {c: r for c, r in readings.items() if c != "c2"})
    assert_breaks_at(rows, broken, 2, "API server")


def test_a_namespace_istiod_does_not_watch_breaks_at_the_exporter(roots):
    plan, readings = healthy(roots)
    readings["c1"]["mesh_config"]["discovery_selectors"] = [{"matchLabels": {"team": "shop"}}]
    rows, broken = run(plan, readings)
    assert_breaks_at(rows, broken, 8, "discoverySelectors")
    assert "matches none of istiod's discoverySelectors" in broken["evidence"][0]
    readings["c1"]["mesh_config"]["discovery_selectors"].append({"matchLabels": {"team": "bar"}})
    assert run(plan, readings)[1] is None
