"""ServiceEntry distribution: export selection, the fleet plan, and what one cluster must change."""

import copy

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils._services.render import (
    reconcile_entries, reconcile_namespaces, render_destination_rules, render_entries, shadowing_rules)
from ansible_collections.meshops.multicluster.plugins.module_utils._services.plan import cluster_store, plan_fleet, traffic_policy
from ansible_collections.meshops.multicluster.plugins.module_utils._services.exports import PlanError, port_protocol, select_exports
from ansible_collections.meshops.multicluster.plugins.module_utils._services.vips import store_configmap, store_from_configmap

HTTPBIN = "httpbin.bar.global"


def service(name="httpbin", namespace="bar", ports=None, labels=None):
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": {"ports": ports if ports is not None else [{"name": "http", "port": 8000, "protocol": "TCP"}]}}


def export(name="httpbin", namespace="bar", ports=None):
    return {"name": name, "namespace": namespace,
            "ports": ports or [{"name": "http", "number": 8000, "protocol": "HTTP"}]}


def cluster(name, exports=(), address=None, **extra):
    return dict({"name": name, "exports": list(exports), "gateway_address": address or "",
                 "vip_store": None}, **extra)


def entry(result, cluster_name, host=HTTPBIN):
    return next(e for e in render_entries(result, cluster_name) if e["metadata"]["name"] == host)


def next_run(result, clusters):
    """The clusters as the next run reads them: each holding the store the previous run wrote."""
    return [dict(c, vip_store=store_from_configmap(store_configmap(cluster_store(result, c["name"]))))
            if c["name"] in result["clusters"] else c
            for c in clusters]


@pytest.mark.parametrize("port, protocol", [
    ({"name": "http", "port": 80}, "HTTP"),
    ({"name": "http-web", "port": 80, "protocol": "TCP"}, "HTTP"),
    ({"name": "HTTP2-x", "port": 80}, "HTTP2"),
    ({"name": "grpc-web-ui", "port": 80}, "GRPC-WEB"),
    ({"name": "grpc", "port": 80}, "GRPC"),
    ({"name": "tcp-db", "port": 5432}, "TCP"),
    ({"name": "tls", "port": 443}, "TLS"),
    ({"name": "mongo", "port": 27017}, "MONGO"),
    ({"name": "web", "port": 80, "appProtocol": "https"}, "HTTPS"),
    ({"name": "web", "port": 80, "appProtocol": "kubernetes.io/h2c"}, "HTTP2"),
    ({"name": "db", "port": 3306}, "TCP"),
    ({"name": "web", "port": 80}, None),
    ({"name": "http", "port": 80, "appProtocol": "foo"}, None),
    ({"name": "dns", "port": 53, "protocol": "UDP"}, None),
    ({"name": "tcp-x", "port": 80, "protocol": "SCTP"}, None),
])
def test_port_protocol_as_istio_derives_it(port, protocol):
    assert port_protocol(port) == protocol


def test_exported_by_label_or_by_inventory():
    services = [service("a", labels={"multicluster.meshops.io/export": "true"}), service("b"),
                service("c", labels={"multicluster.meshops.io/export": "false"}), service("d", namespace="other")]
    exports, missing = select_exports(services, ["other/d", "bar/gone"])
    assert [(e["namespace"], e["name"]) for e in exports] == [("bar", "a"), ("other", "d")]
    assert exports[0]["ports"] == [{"name": "http", "number": 8000, "protocol": "HTTP"}]
    assert missing == ["bar/gone"]


def test_unexportable_ports_are_all_reported_with_the_export_not_raised():
    bad = service(ports=[{"port": 8000, "protocol": "TCP"}, {"name": "web", "port": 8080, "protocol": "TCP"},
                         {"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "http", "port": 80}])
    good = service("good")
    exports, _missing = select_exports([bad, good], ["bar/httpbin", "bar/good"])
    problems = exports[1]["problems"]
    assert "Service bar/httpbin port 8000 has no name" in problems[0]
    assert "port web (8080, TCP) has no protocol Istio can route" in problems[1]
    assert "port dns (53, UDP)" in problems[2] and len(problems) == 3
    assert exports[1]["ports"] == [{"name": "http", "number": 80, "protocol": "HTTP"}]
    assert "problems" not in exports[0]


@pytest.mark.parametrize("item", ["httpbin", "bar/", "Bar/httpbin", "bar/http_bin", "a/b/c"])
def test_bad_inventory_entries(item):
    with pytest.raises(PlanError, match="is not <namespace>/<service name>"):
        select_exports([], [item])


def test_exported_from_one_cluster():
    result = plan_fleet([cluster("c1", [export()], "10.0.0.1", locality="eu/z1"), cluster("c2", address="lb.example.com")])
    vip = result["allocations"][HTTPBIN]
    local, remote = entry(result, "c1"), entry(result, "c2")
    assert remote["spec"] == {
        "hosts": [HTTPBIN], "location": "MESH_INTERNAL", "resolution": "DNS", "addresses": [vip],
        "ports": [{"name": "http", "number": 8000, "protocol": "HTTP"}],
        "endpoints": [{"address": "10.0.0.1", "ports": {"http": 15443}, "locality": "eu/z1",
                       "labels": {"security.istio.io/tlsMode": "istio"}}],
    }
    assert local["spec"]["endpoints"] == [{"address": "httpbin.bar.svc.cluster.local", "ports": {"http": 8000},
                                           "locality": "eu/z1", "labels": {"security.istio.io/tlsMode": "istio"}}]
    assert local["spec"]["addresses"] == [vip]
    assert local["metadata"]["namespace"] == remote["metadata"]["namespace"] == "bar"
    assert remote["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "meshops.multicluster"
    assert result["allocations"] == {HTTPBIN: vip}


def test_exported_from_several_clusters_local_first():
    result = plan_fleet([cluster("c1", [export()], "10.0.0.1"), cluster("c2", [export()], "10.0.0.2", gateway_port=31443),
                         cluster("c3", address="10.0.0.3")])
    assert [e["address"] for e in entry(result, "c3")["spec"]["endpoints"]] == ["10.0.0.1", "10.0.0.2"]
    assert [e["address"] for e in entry(result, "c2")["spec"]["endpoints"]] == [
        "httpbin.bar.svc.cluster.local", "10.0.0.1"]
    assert entry(result, "c1")["spec"]["endpoints"][1] == {
        "address": "10.0.0.2", "ports": {"http": 31443}, "labels": {"security.istio.io/tlsMode": "istio"}}
    assert entry(result, "c3")["metadata"]["annotations"]["multicluster.meshops.io/exported-from"] == "c1,c2"


def test_ports_of_several_exporters_are_merged_and_contradictions_fail():
    grpc = {"name": "grpc", "number": 9000, "protocol": "GRPC"}
    result = plan_fleet([cluster("c1", [export()], "10.0.0.1"),
                         cluster("c2", [export(ports=[{"name": "http", "number": 8000, "protocol": "HTTP"}, grpc])], "10.0.0.2")])
    assert [p["name"] for p in entry(result, "c1")["spec"]["ports"]] == ["http", "grpc"]
    assert entry(result, "c1")["spec"]["endpoints"][1]["ports"] == {"http": 15443, "grpc": 15443}
    # a contradiction holds the host back, with a warning; the fleet plan still succeeds
    held = plan_fleet([cluster("c1", [export(), export("other")], "10.0.0.1"),
                       cluster("c2", [export(ports=[{"name": "http", "number": 8080, "protocol": "HTTP"}])], "10.0.0.2")])
    assert [s["host"] for s in held["services"]] == ["other.bar.global"]
    assert list(held["held"]) == [HTTPBIN]
    assert any("port http/8080/HTTP by c2 but http/8000/HTTP elsewhere" in w for w in held["warnings"])


def test_single_namespace_mode():
    result = plan_fleet([cluster("c1", [export()], "10.0.0.1")], namespace_mode="single", namespace="mesh-services")
    assert entry(result, "c1")["metadata"]["namespace"] == "mesh-services"


def test_exporting_cluster_without_gateway_fails_naming_it():
    with pytest.raises(PlanError, match="cluster c1 exports bar/httpbin but has no gateway address"):
        plan_fleet([cluster("c1", [export()]), cluster("c2", address="10.0.0.2")])
    # a cluster that exports nothing needs no gateway
    assert render_entries(plan_fleet([cluster("c1", [export()], "10.0.0.1"), cluster("c2")]), "c2")


@pytest.mark.parametrize("bad, message", [
    (export(name="Bad_Name"), "cluster c1: Service bar/Bad_Name: host Bad_Name.bar.global: label 'Bad_Name' must be"),
    (export(name="x" * 64), "is 64 characters long"),
    (export(ports=[{"name": "p" * 63, "number": 80, "protocol": "HTTP"}]),
     "cluster c1: Service bar/httpbin port name %r is not valid in a ServiceEntry" % ("p" * 63)),
    (export(ports=[{"name": "udp", "number": 53, "protocol": "UDP"}]), "protocol 'UDP' is not one of"),
    (dict(export(), problems=["Service bar/httpbin port 53 has no name"]), "cluster c1: Service bar/httpbin port 53 has no name"),
])
def test_a_bad_value_of_a_services_owner_holds_back_only_that_service(bad, message):
    result = plan_fleet([cluster("c1", [bad, export("good")], "10.0.0.1"), cluster("c2", address="10.0.0.2")])
    host = "%s.%s.global" % (bad["name"], bad["namespace"])
    assert [s["host"] for s in result["services"]] == ["good.bar.global"] and list(result["held"]) == [host]
    assert result["held"][host][0].startswith(message) or message in result["held"][host][0], result["held"]
    assert [w for w in result["warnings"] if message in w][0].endswith(
        "; host %s keeps its current ServiceEntries and DestinationRules in every cluster (none created, updated or "
        "removed) until this is fixed" % host)
    # a new held host gets no VIP, no entry, no record
    assert list(result["allocations"]) == ["good.bar.global"]
    assert [e["metadata"]["name"] for e in render_entries(result, "c2")] == ["good.bar.global"]


def test_a_held_host_keeps_its_vip_and_its_entries_everywhere_until_fixed():
    fleet = [cluster("c1", [export("a"), export("b")], "10.0.0.1"), cluster("c2", address="10.0.0.2")]
    first = plan_fleet(fleet)
    live = [as_live(obj) for obj in render_entries(first, "c2") + render_destination_rules(first, "c2")]
    broken = dict(export("b"), ports=[{"name": "udp", "number": 53, "protocol": "UDP"}])
    second = plan_fleet(next_run(first, [cluster("c1", [export("a"), broken], "10.0.0.1"), fleet[1]]))
    assert second["allocations"] == first["allocations"] and second["generation"] == first["generation"]
    desired = render_entries(second, "c2") + render_destination_rules(second, "c2")
    changes = reconcile_entries(desired, live, keep_hosts=second["held"])
    assert sorted(obj["kind"] for obj in changes.kept) == ["DestinationRule", "ServiceEntry"]
    assert {obj["metadata"]["name"] for obj in changes.kept} == {"b.bar.global"}
    assert not changes.changed
    # fixed: back in the plan with the same VIP
    third = plan_fleet(next_run(second, fleet))
    assert third["allocations"] == first["allocations"] and third["held"] == {}


@pytest.mark.parametrize("clusters, kwargs, message", [
    ([cluster("c1", [export()], "bad address!")], {}, "gateway address"),
    ([cluster("c1", [export()], "fe80::1%eth0")], {}, "gateway address"),  # no scope id
    ([cluster("c1"), cluster("c1")], {}, "is repeated"),
    ([cluster("c1", [export()], "10.0.0.1")], {"vip_range": "10.0.0.0/8"}, "outside 240.0.0.0/4"),
    ([cluster("c1", [export()], "10.0.0.1")], {"vip_range": "240.240.0.0/20"}, "overlaps 240.240.0.0/16"),
    ([cluster("c1", [export(name="a"), export(name="b")], "10.0.0.1")], {"vip_range": "240.10.0.0/32"},
     "has 1 addresses but 2 hosts"),
    ([cluster("c1")], {"namespace_mode": "spread"}, "mesh_services_namespace_mode"),
    ([cluster("c1")], {"namespace_mode": "single", "namespace": "Mesh"}, "mesh_services_namespace"),
    # one check of DNS labels everywhere: 64 characters are refused, naming the variable
    ([cluster("c1")], {"namespace_mode": "single", "namespace": "n" * 64},
     "mesh_services_namespace '%s' is 64 characters long" % ("n" * 64)),
])
def test_bad_input_fails_before_anything_is_written(clusters, kwargs, message):
    with pytest.raises(PlanError, match=message):
        plan_fleet(clusters, **kwargs)


def test_every_problem_is_reported_at_once():
    with pytest.raises(PlanError) as error:
        plan_fleet([cluster("c1", [export(name="Bad")]), cluster("c1"), cluster("c2", [export()])], vip_range="10.0.0.0/8")
    # the gateways missing, the name repeated, the range; Service bar/Bad is only held back
    assert len(str(error.value).splitlines()) == 4


def test_vips_of_untouched_services_never_change():
    fleet = [cluster("c1", [export("a"), export("b"), export("c")], "10.0.0.1"), cluster("c2", address="10.0.0.2")]
    first = plan_fleet(fleet)
    # b is un-exported, d exported, a cluster added: a and c keep theirs, d reuses b's freed VIP
    fleet = next_run(first, [cluster("c1", [export("a"), export("c"), export("d")], "10.0.0.1"),
                             cluster("c2", address="10.0.0.2"), cluster("c3", [export("a")], "10.0.0.3")])
    second = plan_fleet(fleet)
    before, after = first["allocations"], second["allocations"]
    assert after["a.bar.global"] == before["a.bar.global"] and after["c.bar.global"] == before["c.bar.global"]
    assert after["d.bar.global"] == before["b.bar.global"]
    assert second["generation"] == first["generation"] + 1
    assert cluster_store(second, "c3")["generation"] == second["generation"]
    assert entry(second, "c2", "a.bar.global")["spec"]["endpoints"][1]["address"] == "10.0.0.3"
    # and a run with nothing changed plans the same stores again
    third = plan_fleet(next_run(second, fleet))
    assert third["allocations"] == after and third["generation"] == second["generation"]


def test_removed_cluster_is_gone_from_every_endpoint_list():
    fleet = [cluster("c1", [export()], "10.0.0.1"), cluster("c2", [export()], "10.0.0.2"), cluster("c3", address="x")]
    result = plan_fleet(next_run(plan_fleet(fleet), [fleet[0], fleet[2]]))
    assert [e["address"] for e in entry(result, "c3")["spec"]["endpoints"]] == ["10.0.0.1"]


def test_vip_store_read_back_feeds_the_next_plan():
    configmap = {"metadata": {"resourceVersion": "7", "annotations": {"multicluster.meshops.io/vip-generation": "3"}},
                 "data": {HTTPBIN: "240.10.0.9"}}
    result = plan_fleet([cluster("c1", [export()], "10.0.0.1", vip_store=store_from_configmap(configmap))])
    assert result["allocations"] == {HTTPBIN: "240.10.0.9"}
    assert cluster_store(result, "c1") == {"allocations": {HTTPBIN: "240.10.0.9"}, "generation": 3, "resource_version": "7"}


# --- one cluster's changes -----------------------------------------------------------------------

def desired_entries():
    result = plan_fleet([cluster("c1", [export("a"), export("b")], "10.0.0.1", locality="eu/z1"), cluster("c2", address="x")])
    return render_entries(result, "c2")


def as_live(obj, **extra_labels):
    live = copy.deepcopy(obj)
    live["metadata"].update(uid="u", resourceVersion="1", labels=dict(live["metadata"]["labels"], **extra_labels))
    return live


def foreign(name, namespace="bar", hosts=("other.example.com",), addresses=()):
    return {"metadata": {"name": name, "namespace": namespace, "labels": {"app": "x"}},
            "spec": {"hosts": list(hosts), "addresses": list(addresses)}}


def test_noop_changes_nothing_and_ignores_others_additions():
    desired = desired_entries()
    live = [as_live(obj, team="payments") for obj in desired] + [foreign("unrelated")]
    live[0]["spec"]["exportTo"] = ["*"]
    changes = reconcile_entries(desired, live)
    assert (changes.create, changes.update, changes.delete, changes.conflicts) == ([], [], [], [])
    assert len(changes.unchanged) == 2 and not changes.changed


def test_changed_created_and_pruned():
    desired = desired_entries()
    changed = as_live(desired[0])
    changed["spec"]["endpoints"][0]["address"] = "10.9.9.9"
    stale = as_live(desired[1])
    stale["metadata"]["name"] = "gone.bar.global"
    changes = reconcile_entries(desired, [changed, stale])
    assert [obj["metadata"]["name"] for obj in changes.create] == ["b.bar.global"]
    assert [(d["metadata"]["name"], live is changed) for d, live in changes.update] == [("a.bar.global", True)]
    assert changes.delete == [stale]
    assert reconcile_entries(desired, [changed, stale], prune=False).delete == []


def test_a_field_we_stopped_setting_is_an_update():
    desired = desired_entries()
    live = [as_live(obj) for obj in desired]
    for obj in desired:
        del obj["spec"]["endpoints"][0]["locality"]
    assert len(reconcile_entries(desired, live).update) == 2


def test_others_serviceentries_with_our_name_host_or_vip_skip_that_host_only_and_are_not_touched():
    result = plan_fleet([cluster("c1", [export("a"), export("b"), export("c"), export("d")], "10.0.0.1"), cluster("c2")])
    desired = render_entries(result, "c2") + render_destination_rules(result, "c2")
    a, b, c, d = (desired[i] for i in range(4))
    ours_b = as_live(b)
    ours_b["spec"]["endpoints"][0]["address"] = "10.9.9.9"  # ours, out of date: left as it is
    live = [foreign("a.bar.global"), foreign("theirs", hosts=["b.bar.global"]),
            foreign("vip", namespace="ops", addresses=[c["spec"]["addresses"][0]]), ours_b]
    changes = reconcile_entries(desired, live)
    assert sorted(changes.skipped) == ["a.bar.global", "b.bar.global", "c.bar.global"]
    assert changes.skipped["a.bar.global"] == [
        "ServiceEntry bar/a.bar.global is not managed by meshops.multicluster but has its name, which this step needs "
        "for host a.bar.global: that host is skipped in this cluster (theirs untouched, ours left as it is); remove "
        "theirs or stop exporting that service"]
    assert "ServiceEntry bar/theirs" in changes.skipped["b.bar.global"][0] and "host b.bar.global" in changes.skipped["b.bar.global"][0]
    assert "ServiceEntry ops/vip" in changes.skipped["c.bar.global"][0]
    assert "address %s" % c["spec"]["addresses"][0] in changes.skipped["c.bar.global"][0]
    # every other host converges; theirs untouched; ours of a skipped host neither updated nor pruned
    assert sorted((o["kind"], o["metadata"]["name"]) for o in changes.create) == [
        ("DestinationRule", "d.bar.global"), ("ServiceEntry", "d.bar.global")]
    assert changes.update == [] and changes.delete == [] and changes.conflicts == []
    assert changes.kept == [ours_b] and d in changes.create


def test_namespaces_created_when_missing_and_ours_pruned_when_unneeded():
    desired = desired_entries()
    ours = {"app.kubernetes.io/managed-by": "meshops.multicluster", "multicluster.meshops.io/component": "services"}
    live = [{"metadata": {"name": "default"}}, {"metadata": {"name": "old", "labels": ours}},
            {"metadata": {"name": "theirs", "labels": {"app.kubernetes.io/managed-by": "helm"}}}]
    changes = reconcile_namespaces(desired, live)
    assert [ns["metadata"] for ns in changes.create] == [{"name": "bar", "labels": ours}]
    assert [ns["metadata"]["name"] for ns in changes.delete] == ["old"]
    assert reconcile_namespaces(desired, live, prune=False).delete == []


def test_a_namespace_being_deleted_is_not_deleted_again_and_awaited_when_needed_again():
    ours = {"app.kubernetes.io/managed-by": "meshops.multicluster", "multicluster.meshops.io/component": "services"}
    terminating = {"metadata": {"name": "bar", "labels": ours}, "status": {"phase": "Terminating"}}
    gone = reconcile_namespaces([], [terminating])  # un-exported, run again while it is deleted
    assert (gone.delete, gone.create, gone.waiting, gone.changed) == ([], [], [], False)
    again = reconcile_namespaces(desired_entries(), [terminating])  # exported again meanwhile
    assert again.waiting == ["bar"] and [ns["metadata"]["name"] for ns in again.create] == ["bar"]
    assert again.conflicts == []


# --- a cluster that cannot be read ----------------------------------------------------------------

def test_unavailable_cluster_keeps_every_vip_and_is_named_in_a_warning():
    fleet = [cluster("c1", [export("a")], "10.0.0.1"), cluster("c2", [export("b")], "10.0.0.2"), cluster("c3")]
    first = plan_fleet(fleet)
    # c2 cannot be read: b is not seen, but keeps its VIP; a new export still gets one
    readable = next_run(first, [cluster("c1", [export("a"), export("n")], "10.0.0.1"), fleet[2]])
    second = plan_fleet(readable, unavailable=["c2"])
    assert second["allocations"]["b.bar.global"] == first["allocations"]["b.bar.global"]
    assert second["allocations"]["a.bar.global"] == first["allocations"]["a.bar.global"]
    assert "n.bar.global" in second["allocations"] and second["unavailable"] == ["c2"]
    assert any("c2 could not be read" in w for w in second["warnings"])
    # once c2 is read again without b, b's VIP is freed
    third = plan_fleet(next_run(second, [readable[0], cluster("c2", address="10.0.0.2"), fleet[2]]))
    assert "b.bar.global" not in third["allocations"]


def test_a_cluster_cannot_be_both_read_and_unavailable():
    with pytest.raises(PlanError, match="c1 are both read and unavailable"):
        plan_fleet([cluster("c1")], unavailable=["c1"])


def test_entries_exported_from_an_unavailable_cluster_are_kept_as_they_are():
    fleet = [cluster("c1", [export("a")], "10.0.0.1"), cluster("c2", [export("b"), export("a")], "10.0.0.2"),
             cluster("c3")]
    live = [as_live(obj) for obj in render_entries(plan_fleet(fleet), "c3")]
    # c2 unreadable: the plan no longer has b, and a only from c1; both stay as they are in c3
    desired = render_entries(plan_fleet(next_run(plan_fleet(fleet), [fleet[0], fleet[2]]), unavailable=["c2"]), "c3")
    changes = reconcile_entries(desired, live, keep_exported_from=["c2"])
    assert sorted(obj["metadata"]["name"] for obj in changes.kept) == ["a.bar.global", "b.bar.global"]
    assert (changes.create, changes.update, changes.delete) == ([], [], [])
    # without the policy, b would be pruned and a's c2 endpoint dropped
    changes = reconcile_entries(desired, live)
    assert [obj["metadata"]["name"] for obj in changes.delete] == ["b.bar.global"] and len(changes.update) == 1


# --- DestinationRules: mutual TLS, outlier detection, failover ----------------------------------------

def test_every_serviceentry_gets_a_destination_rule_of_its_name_with_failover_by_default():
    result = plan_fleet([cluster("c1", [export("a")], "10.0.0.1"), cluster("c2", [export("a")], "10.0.0.2"), cluster("c3")])
    entries, rules = render_entries(result, "c3"), render_destination_rules(result, "c3")
    assert [(r["kind"], r["metadata"]["name"], r["metadata"]["namespace"]) for r in rules] == \
        [("DestinationRule", e["metadata"]["name"], e["metadata"]["namespace"]) for e in entries]
    assert rules[0]["metadata"]["labels"] == entries[0]["metadata"]["labels"]
    assert rules[0]["metadata"]["annotations"] == {"multicluster.meshops.io/exported-from": "c1,c2"}
    assert rules[0]["spec"] == {"host": "a.bar.global", "trafficPolicy": {
        "tls": {"mode": "ISTIO_MUTUAL"},
        "loadBalancer": {"localityLbSetting": {"enabled": True}},
        "outlierDetection": {"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s",
                             "maxEjectionPercent": 100}}}


def test_failover_none_and_outlier_settings_come_from_the_policy():
    policy = traffic_policy("none", consecutive_errors=3, interval="2s", base_ejection_time="1m", max_ejection_percent=50)
    result = plan_fleet([cluster("c1", [export("a")], "10.0.0.1"), cluster("c2")], policy=policy)
    spec = render_destination_rules(result, "c2")[0]["spec"]["trafficPolicy"]
    assert spec["loadBalancer"] == {"localityLbSetting": {"enabled": False}}
    assert spec["outlierDetection"] == {"consecutive5xxErrors": 3, "interval": "2s", "baseEjectionTime": "1m",
                                        "maxEjectionPercent": 50}


@pytest.mark.parametrize("values, variable", [
    ({"failover": "nearest"}, "mesh_services_failover 'nearest' is not one of locality, none"),
    ({"consecutive_errors": 0}, "mesh_services_outlier_consecutive_errors 0"),
    ({"consecutive_errors": True}, "mesh_services_outlier_consecutive_errors True"),
    ({"max_ejection_percent": 101}, "mesh_services_outlier_max_ejection_percent 101"),
    ({"interval": "10"}, "mesh_services_outlier_interval '10'"),
    ({"base_ejection_time": "0s"}, "mesh_services_outlier_base_ejection_time '0s'"),
])
def test_bad_traffic_policy_names_the_variable(values, variable):
    with pytest.raises(PlanError, match=variable.replace("(", r"\(")):
        traffic_policy(**values)


def test_rules_are_reconciled_with_the_entries_and_pruned_with_them():
    result = plan_fleet([cluster("c1", [export("a"), export("b")], "10.0.0.1"), cluster("c2")])
    desired = render_entries(result, "c2") + render_destination_rules(result, "c2")
    live = [as_live(obj) for obj in desired]
    assert not reconcile_entries(desired, live).changed
    stale_rule = dict(as_live(desired[3]), metadata=dict(as_live(desired[3])["metadata"], name="gone.bar.global"))
    changes = reconcile_entries(desired, live[:3] + [stale_rule])
    assert [(obj["kind"], obj["metadata"]["name"]) for obj in changes.create] == [("DestinationRule", "b.bar.global")]
    assert changes.delete == [stale_rule]
    assert changes.counts("DestinationRule") == {"created": 1, "updated": 0, "unchanged": 1, "deleted": 1}
    assert changes.counts("ServiceEntry") == {"created": 0, "updated": 0, "unchanged": 2, "deleted": 0}


def test_others_rules_with_our_name_conflict_and_on_our_host_are_warned_about():
    result = plan_fleet([cluster("c1", [export("a")], "10.0.0.1"), cluster("c2")])
    desired = render_entries(result, "c2") + render_destination_rules(result, "c2")
    theirs = {"kind": "DestinationRule", "metadata": {"name": "a.bar.global", "namespace": "bar"},
              "spec": {"host": "a.bar.global"}}
    other_name = {"kind": "DestinationRule", "metadata": {"name": "subsets", "namespace": "bar"},
                  "spec": {"host": "a.bar.global"}}
    changes = reconcile_entries(desired, [theirs, other_name])
    assert changes.skipped == {"a.bar.global": [
        "DestinationRule bar/a.bar.global is not managed by meshops.multicluster but has its name, which this step "
        "needs for host a.bar.global: that host is skipped in this cluster (theirs untouched, ours left as it is); "
        "remove theirs or stop exporting that service"]}
    assert (changes.create, changes.update, changes.delete, changes.conflicts) == ([], [], [], [])
    assert shadowing_rules(desired, [theirs, other_name]) == [
        "DestinationRule bar/subsets of someone else also sets host a.bar.global: Istio applies only one of it and "
        "DestinationRule bar/a.bar.global"]


# --- the fleet check lists what tenant input left as it is ------------------------------------------

def test_the_fleet_check_warns_about_held_and_skipped_hosts_of_each_cluster():
    from ansible_collections.meshops.multicluster.plugins.module_utils._verify.checks import check_held_hosts, evaluate
    counts = {"created": 0, "updated": 0, "deleted": 0, "unchanged": 2, "destination_rules": {"unchanged": 2},
              "held": {"b.bar.global": ["cluster c1: Service bar/b: annotation x='c2,,': item 2 '' is empty"]},
              "skipped": {"a.bar.global": ["ServiceEntry fx/mine is not managed by meshops.multicluster but has "
                                           "host a.bar.global"]}}
    found = check_held_hosts(counts)
    assert found["status"] == "warn" and found["detail"] == (
        "2 host(s) left as they are: b.bar.global (held back: cluster c1: Service bar/b: annotation x='c2,,': item 2 "
        "'' is empty) | a.bar.global (skipped here: ServiceEntry fx/mine is not managed by meshops.multicluster but "
        "has host a.bar.global)")
    assert found["object"] == "ServiceEntries and DestinationRules of a.bar.global, b.bar.global"
    assert check_held_hosts(dict(counts, held={}, skipped={}))["status"] == "pass"
    assert check_held_hosts(None)["status"] == "skip"
    model = evaluate([{"name": "c1", "reachable": True, "check": {}, "service_entries": counts}], {})
    assert model["clusters"][0]["results"]["held_hosts"]["status"] == "warn"
    assert model["clusters"][0]["results"]["service_entries"]["status"] == "pass"


@pytest.mark.parametrize("value", ["10s\n", " 10s", "10s "])
def test_durations_are_matched_whole(value):
    with pytest.raises(PlanError, match="mesh_services_outlier_interval"):
        traffic_policy(interval=value)
