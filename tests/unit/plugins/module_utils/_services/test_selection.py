"""Import selection: the export-to annotation and the importing clusters' filters, their checks,
and what each cluster holds under them (entries, rules, the fleet check's view)."""

import copy
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.meshops.multicluster.plugins.module_utils._services.render import (
    reconcile_entries, render_destination_rules, render_entries)
from ansible_collections.meshops.multicluster.plugins.module_utils._verify.checks import evaluate
from ansible_collections.meshops.multicluster.plugins.module_utils._services.plan import plan_fleet, to_text
from ansible_collections.meshops.multicluster.plugins.module_utils._services.selection import (
    check_export_to, parse_export_to)
from ansible_collections.meshops.multicluster.plugins.module_utils._services.exports import PlanError, select_exports

ANNOTATION = "multicluster.meshops.io/export-to"
GROUPS = {"c1": ["mesh_clusters", "eu"], "c2": ["mesh_clusters", "eu"], "c3": ["mesh_clusters", "us"],
          "c4": ["mesh_clusters", "us"]}


def export(name="a", namespace="bar", export_to=None):
    found = {"name": name, "namespace": namespace, "ports": [{"name": "http", "number": 8000, "protocol": "HTTP"}]}
    if export_to is not None:
        found["export_to"] = export_to
    return found


def cluster(name, *exports, **extra):
    return dict({"name": name, "exports": list(exports), "gateway_address": "10.0.0.%s" % name[1:],
                 "vip_store": None}, **extra)


def fleet_plan(*clusters, **kwargs):
    return plan_fleet(list(clusters), cluster_groups=GROUPS, **kwargs)


def held(result, name):
    """{host: [endpoint addresses]} of the entries a cluster holds."""
    return {e["metadata"]["name"]: [p["address"] for p in e["spec"]["endpoints"]] for e in render_entries(result, name)}


def problems(*clusters, **kwargs):
    with pytest.raises(PlanError) as error:
        fleet_plan(*clusters, **kwargs)
    return str(error.value).splitlines()


# --- the annotation's syntax ------------------------------------------------------------------------

@pytest.mark.parametrize("value, selectors", [
    ("c2", ["c2"]),
    ("c2,group:eu", ["c2", "group:eu"]),
    (" c2 , group:us_west-1.b ,c2", ["c2", "group:us_west-1.b"]),
])
def test_the_annotation_lists_clusters_and_groups(value, selectors):
    assert parse_export_to(value) == (selectors, [])


@pytest.mark.parametrize("value, why", [
    ("", "item 1 '' is empty"),
    ("c2,,c3", "item 2 '' is empty"),
    ("c2,", "item 2 '' is empty"),
    ("Cluster2", "item 1 'Cluster2' is not a cluster name: it must be lowercase letters"),
    ("c2;c3", "item 1 'c2;c3' is not a cluster name"),
    ("cluster 2", "item 1 'cluster 2' is not a cluster name"),
    ("group:", "item 1 'group:' is not group:<inventory group>"),
    ("group:e u", "item 1 'group:e u' is not group:<inventory group>"),
    ("region:eu", "item 1 'region:eu' is not a cluster name"),
])
def test_malformed_items_say_what_is_expected(value, why):
    selectors, found = parse_export_to(value)
    assert len(found) == 1 and found[0].startswith(why), found
    assert found[0].endswith("expected a comma-separated list of cluster names and group:<inventory group>, "
                             "e.g. \"cluster2,group:eu\"")


def test_the_annotation_is_passed_on_as_written():
    service = {"metadata": {"name": "a", "namespace": "bar", "annotations": {ANNOTATION: "c2, group:eu"},
                            "labels": {"multicluster.meshops.io/export": "true"}},
               "spec": {"ports": [{"name": "http", "port": 8000}]}}
    plain = {"metadata": {"name": "b", "namespace": "bar"}, "spec": {"ports": [{"name": "http", "port": 8000}]}}
    exports, _missing = select_exports([service, plain], ["bar/b"])
    assert exports[0]["export_to"] == "c2, group:eu" and "export_to" not in exports[1]


# --- the parser under any text (Hypothesis) -----------------------------------------------------------

# What a selector may be, spelled out here independently of the parser's own patterns.
CLUSTER_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
GROUP_SELECTOR = re.compile(r"group:[A-Za-z0-9_][A-Za-z0-9_.-]*")
cluster_names = st.from_regex(CLUSTER_NAME, fullmatch=True)
group_selectors = st.from_regex(GROUP_SELECTOR, fullmatch=True)
selector_lists = st.lists(st.one_of(cluster_names, group_selectors), min_size=1, max_size=6)
# Anything but the plain space that may surround an item: newlines, tabs, NUL, non-ASCII spaces.
tricks = st.sampled_from(["\n", "\r", "\t", "\x00", "\x0b", "\x0c", "\u00a0", "\u2028", "\u3000", "\x85"])


def valid(selector):
    return bool(CLUSTER_NAME.fullmatch(selector) or GROUP_SELECTOR.fullmatch(selector))


@given(st.text())
def test_any_text_is_judged_never_raises_and_yields_only_whole_valid_selectors(value):
    selectors, found = parse_export_to(value)
    assert all(valid(selector) for selector in selectors) and len(set(selectors)) == len(selectors)
    assert all(isinstance(why, str) for why in found)
    known, problems, warnings = check_export_to("cluster c1: Service bar/a", value, {"c1", "c2"}, {"eu": ["c1"]})
    assert set(known) <= set(selectors) and problems == ["cluster c1: Service bar/a: annotation %s=%r: %s"
                                                         % (ANNOTATION, value, why) for why in found]
    assert len(known) + len(warnings) == len(selectors)


@given(selector_lists, st.lists(st.sampled_from(["", " ", "  "]), min_size=2, max_size=2))
def test_valid_lists_round_trip(selectors, spaces):
    value = ",".join(spaces[0] + selector + spaces[1] for selector in selectors)
    expected = list(dict.fromkeys(selectors))
    assert parse_export_to(value) == (expected, [])
    assert parse_export_to(",".join(expected)) == (expected, [])


@given(selector_lists, st.data())
def test_a_whitespace_or_control_trick_in_any_item_is_refused(selectors, data):
    position = data.draw(st.integers(0, len(selectors) - 1))
    trick = data.draw(tricks)
    where = data.draw(st.sampled_from(["before", "after", "inside"]))
    item = selectors[position]
    selectors[position] = {"before": trick + item, "after": item + trick,
                           "inside": item[:1] + trick + item[1:]}[where]
    found = parse_export_to(",".join(selectors))[1]
    assert len(found) >= 1 and found[0].startswith("item %d " % (position + 1)), found


# --- a bad annotation holds back its Service only; the inventory's own variables fail the plan ----------

SYNTAX = "expected a comma-separated list of cluster names and group:<inventory group>, e.g. \"cluster2,group:eu\""


def test_unknown_names_are_left_out_with_a_warning_and_the_rest_applies():
    result = fleet_plan(cluster("c1", export("a", export_to="c9,c2,group:asia"), export("b", export_to="c9")),
                        cluster("c2"), cluster("c3"), cluster("c4"))
    assert [s["export_to"] for s in result["services"]] == [{"c1": ["c2"]}, {"c1": []}]
    assert held(result, "c2") == {"a.bar.global": ["10.0.0.1"]} and held(result, "c3") == {}
    assert held(result, "c1") == {"a.bar.global": ["a.bar.svc.cluster.local"], "b.bar.global": ["b.bar.svc.cluster.local"]}
    assert result["held"] == {}
    assert [w for w in result["warnings"] if ANNOTATION in w] == [
        "cluster c1: Service bar/a: annotation %s='c9,c2,group:asia': cluster 'c9' is not a cluster of the mesh; "
        "expected one of c1, c2, c3, c4: left out, the rest applies" % ANNOTATION,
        "cluster c1: Service bar/a: annotation %s='c9,c2,group:asia': group 'asia' is not an inventory group of the "
        "mesh's clusters; expected one of eu, mesh_clusters, us: left out, the rest applies" % ANNOTATION,
        "cluster c1: Service bar/b: annotation %s='c9': cluster 'c9' is not a cluster of the mesh; expected one of "
        "c1, c2, c3, c4: left out, the rest applies" % ANNOTATION,
    ]


def test_a_malformed_annotation_holds_back_its_service_and_the_plan_goes_on():
    result = fleet_plan(cluster("c1", export("a"), export("b", export_to="c2,,")), cluster("c2"))
    assert [s["host"] for s in result["services"]] == ["a.bar.global"]
    assert result["held"] == {"b.bar.global": [
        "cluster c1: Service bar/b: annotation %s='c2,,': item 2 '' is empty; %s" % (ANNOTATION, SYNTAX),
        "cluster c1: Service bar/b: annotation %s='c2,,': item 3 '' is empty; %s" % (ANNOTATION, SYNTAX)]}
    assert sum(1 for w in result["warnings"] if "host b.bar.global keeps its current ServiceEntries" in w) == 2


def test_the_inventorys_import_from_variables_still_fail_the_plan():
    found = problems(cluster("c1", export("a", export_to="c9")),
                     cluster("c2", import_from_clusters=["c3", "c8"], import_from_namespaces=["Bar"]),
                     cluster("c3"), cluster("c4"))
    assert found == [
        "cluster c2: mesh_services_import_from_clusters names 'c8', which is not a cluster of the mesh; expected "
        "names among c1, c2, c3, c4",
        "cluster c2: mesh_services_import_from_namespaces entry 'Bar' must be lowercase letters, digits and '-', "
        "starting and ending with a letter or digit; expected namespace names (DNS-1123 labels)",
    ]


def test_an_unavailable_cluster_and_its_groups_may_be_named():
    result = fleet_plan(cluster("c1", export("a", export_to="c4,group:us")), cluster("c2"), unavailable=["c3", "c4"])
    assert result["services"][0]["export_to"] == {"c1": ["c4", "group:us"]}
    assert result["selection"]["groups"] == {"us": ["c3", "c4"]}


# --- what each cluster holds ----------------------------------------------------------------------------

def test_by_default_every_cluster_imports_everything_and_the_plan_stays_compact():
    result = fleet_plan(cluster("c1", export("a")), cluster("c2"), cluster("c3"))
    assert all(set(held(result, name)) == {"a.bar.global"} for name in ("c1", "c2", "c3"))
    assert "export_to" not in result["services"][0]
    assert result["selection"] == {"groups": {}, "import_from": {}}


def test_a_service_exported_to_one_cluster_reaches_it_and_its_exporter_only():
    result = fleet_plan(cluster("c1", export("a", export_to="c2")), cluster("c2"), cluster("c3"))
    assert held(result, "c1") == {"a.bar.global": ["a.bar.svc.cluster.local"]}
    assert held(result, "c2") == {"a.bar.global": ["10.0.0.1"]}
    assert held(result, "c3") == {} and render_destination_rules(result, "c3") == []
    # the VIP is the host's, fleet-wide, and so are the zone's records
    assert list(result["allocations"]) == ["a.bar.global"]


def test_a_group_selects_its_clusters():
    result = fleet_plan(cluster("c1", export("a", export_to="group:us")), cluster("c2"), cluster("c3"), cluster("c4"))
    assert [name for name in ("c1", "c2", "c3", "c4") if held(result, name)] == ["c1", "c3", "c4"]
    assert result["selection"]["groups"] == {"us": ["c3", "c4"]}  # only the groups named, with their members


def test_each_exporter_decides_for_its_own_endpoints():
    result = fleet_plan(cluster("c1", export("a", export_to="c3")), cluster("c2", export("a")), cluster("c3"),
                        cluster("c4"))
    assert held(result, "c3")["a.bar.global"] == ["10.0.0.1", "10.0.0.2"]
    assert held(result, "c4")["a.bar.global"] == ["10.0.0.2"]
    assert held(result, "c2")["a.bar.global"] == ["a.bar.svc.cluster.local"]  # c1 does not export it to c2
    entry = next(e for e in render_entries(result, "c4"))
    rule = render_destination_rules(result, "c4")[0]
    assert entry["metadata"]["annotations"] == rule["metadata"]["annotations"] == \
        {"multicluster.meshops.io/exported-from": "c2"}


def test_a_cluster_imports_only_from_the_clusters_and_namespaces_it_names_but_keeps_its_own():
    result = fleet_plan(cluster("c1", export("a"), export("b", namespace="shop")), cluster("c2", export("a")),
                        cluster("c3", import_from_clusters=["c2"]),
                        cluster("c4", export("c", namespace="ops"), import_from_namespaces=["shop"]))
    assert held(result, "c3") == {"a.bar.global": ["10.0.0.2"]}
    assert held(result, "c4") == {"b.shop.global": ["10.0.0.1"], "c.ops.global": ["c.ops.svc.cluster.local"]}
    assert result["selection"]["import_from"] == {"c3": {"clusters": ["c2"]}, "c4": {"namespaces": ["shop"]}}


def test_an_exporter_keeps_its_own_entry_whatever_the_selection():
    result = fleet_plan(cluster("c1", export("a", export_to="c3"), import_from_clusters=["c3"],
                                import_from_namespaces=["shop"]), cluster("c2", export("a")), cluster("c3"))
    assert held(result, "c1") == {"a.bar.global": ["a.bar.svc.cluster.local"]}


def test_a_cluster_that_no_longer_imports_a_host_loses_its_entry_and_rule_and_the_others_keep_theirs():
    def rendered(result, name):
        return render_entries(result, name) + render_destination_rules(result, name)

    everyone = fleet_plan(cluster("c1", export("a"), export("b")), cluster("c2"), cluster("c3"))
    narrowed = fleet_plan(cluster("c1", export("a", export_to="c2"), export("b")), cluster("c2"), cluster("c3"))
    live = {name: copy.deepcopy(rendered(everyone, name)) for name in ("c1", "c2", "c3")}
    gone = reconcile_entries(rendered(narrowed, "c3"), live["c3"])
    assert sorted((obj["kind"], obj["metadata"]["name"]) for obj in gone.delete) == [
        ("DestinationRule", "a.bar.global"), ("ServiceEntry", "a.bar.global")]
    assert (gone.create, gone.update) == ([], [])
    assert not any(reconcile_entries(rendered(narrowed, name), live[name]).changed for name in ("c1", "c2"))


def test_vips_do_not_depend_on_the_selection():
    open_plan = fleet_plan(cluster("c1", export("a"), export("b")), cluster("c2"))
    narrowed = fleet_plan(cluster("c1", export("a", export_to="c1"), export("b")), cluster("c2"))
    assert open_plan["allocations"] == narrowed["allocations"]


# --- the fleet check compares each cluster with what it should hold ---------------------------------

def test_the_report_shows_each_cluster_what_it_imports_and_fails_over_within_it():
    result = fleet_plan(cluster("c1", export("a", export_to="c3")), cluster("c2", export("a")), cluster("c3"),
                        cluster("c4"))
    clusters = [{"name": name, "reachable": True, "check": {}, "trust": {}} for name in ("c1", "c2", "c3", "c4")]
    model = evaluate(clusters, {"plan": to_text(result)})
    imports = {c["name"]: c["imports"] for c in model["clusters"]}
    assert imports == {"c1": [], "c2": [], "c3": [{"host": "a.bar.global", "from": ["c1", "c2"]}],
                       "c4": [{"host": "a.bar.global", "from": ["c2"]}]}
    assert model["failover"]["services"] == [{"host": "a.bar.global", "orders": {
        "c1": [["c1", "c2"]], "c2": [["c2"]], "c3": [["c1", "c2"]], "c4": [["c2"]]}}]
