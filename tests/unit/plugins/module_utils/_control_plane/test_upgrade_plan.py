import pytest
import yaml

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._verify.checks import check_dns
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.upgrade_plan import (
    PHASES, gate_failures, gate_message, importer_gate, importers, is_done, previous_revision, removal, rollback_plan,
    upgrade_plan, window_problem)
from tests.docs_variables import REPO

TAGS = {"stable": "stable", "canary": "canary"}


def revision(version="1.31.0", ready=True, service=True, in_use_by=()):
    return {"release": "istiod-x", "version": version, "ready": ready, "service": service, "in_use_by": list(in_use_by)}


def info(revisions, tags=None, default=None, gateway="a", namespaces=None, dangling=(), probes=None):
    return {"revisions": revisions, "tags": {t: {"revision": r, "ours": True} for t, r in (tags or {}).items()},
            "default_revision": default, "gateway": {"name": "istio-eastwestgateway", "revision": gateway, "ready": True},
            "namespaces": namespaces or {}, "pods": {}, "dangling_webhooks": list(dangling), "probes": probes or {}}


STEADY_A = info({"a": revision(in_use_by=["tag default"])}, {"default": "a", "stable": "a", "canary": "a"}, "a")


def todo(plan):
    return [phase["name"] for phase in plan["phases"] if phase["todo"]]


def test_a_cluster_on_the_old_revision_has_every_phase_to_do_and_keeps_its_default_until_the_tags_move():
    plan = upgrade_plan(STEADY_A, "b", "1.31.0", TAGS)
    assert [p["name"] for p in plan["phases"]] == list(PHASES)
    assert todo(plan) == list(PHASES)
    assert plan["previous"] == "a" and plan["old_revisions"] == ["a"] and not plan["done"] and not plan["in_place"]
    assert plan["base_default_revision"] == "a"
    assert plan["canary_tags"] == {"default": "a", "stable": "a", "canary": "b"}
    assert plan["final_tags"] == {"default": "b", "stable": "b", "canary": "b"}


def test_a_run_that_stopped_after_the_tags_resumes_from_what_the_cluster_runs():
    state = info({"a": revision(), "b": revision()}, {"default": "b", "stable": "b", "canary": "b"}, "b", gateway="b")
    plan = upgrade_plan(state, "b", "1.31.0", TAGS)
    assert todo(plan) == ["precheck", "base", "gates", "cleanup"]
    # nothing moves back: the base chart keeps the default the cluster already has
    assert plan["base_default_revision"] == "b" and plan["canary_tags"]["default"] == "b"


def test_a_run_that_stopped_after_the_canary_tag_moves_the_gateway_next():
    state = info({"a": revision(), "b": revision()}, {"default": "a", "stable": "a", "canary": "b"}, "a")
    assert todo(upgrade_plan(state, "b", "1.31.0", TAGS)) == ["precheck", "base", "gateway", "tags", "gates", "cleanup"]


def test_a_finished_cluster_is_done_and_a_second_run_leaves_it_alone():
    done = info({"b": revision()}, {"default": "b", "stable": "b", "canary": "b"}, "b", gateway="b")
    plan = upgrade_plan(done, "b", "1.31.0", TAGS)
    assert plan["done"] and plan["old_revisions"] == []
    assert not is_done(dict(done, dangling_webhooks=[{"kind": "x"}]), "b", "1.31.0", TAGS)


def test_the_same_revision_name_with_a_new_chart_is_an_in_place_upgrade():
    state = info({"b": revision("1.31.0")}, {"default": "b", "stable": "b", "canary": "b"}, "b", gateway="b")
    plan = upgrade_plan(state, "b", "1.31.1", TAGS)
    assert plan["in_place"] and plan["previous"] is None and not plan["done"]
    assert todo(plan) == ["precheck", "base", "istiod", "gateway", "gates"]
    assert "in place" in plan["phases"][2]["what"]


def test_an_in_place_fleet_is_adopted_with_default_as_the_old_revision():
    legacy = info({"default": revision(in_use_by=["namespace foo"])}, {}, "default", gateway="default",
                  namespaces={"foo": "default"})
    plan = upgrade_plan(legacy, "1-31-0", "1.31.0", TAGS)
    assert plan["previous"] == "default" and plan["base_default_revision"] == "default"
    # the legacy istiod's own injector serves the default tag until the tags move: no tag webhook for it
    assert plan["canary_tags"] == {"canary": "1-31-0"}
    # a namespace on istio-injection=enabled follows the default tag: not a pin of an old revision
    assert plan["pinned_namespaces"] == {}


def test_namespaces_that_pin_an_old_revision_by_name_are_listed():
    state = info({"a": revision(), "b": revision()}, {"default": "b"}, "b", namespaces={"pay": "a", "web": "stable", "x": "b"})
    assert upgrade_plan(state, "b", "1.31.0", TAGS)["pinned_namespaces"] == {"pay": "a"}


def test_a_cluster_without_istiod_is_refused():
    with pytest.raises(MeshError, match="west: no istiod runs"):
        upgrade_plan(info({}), "b", "1.31.0", TAGS, cluster="west")


def test_the_previous_revision_is_the_default_then_the_gateways_then_the_only_other():
    assert previous_revision(info({"a": revision(), "b": revision()}, default="a"), "b") == "a"
    assert previous_revision(info({"a": revision(), "b": revision()}, default="b", gateway="a"), "b") == "a"
    assert previous_revision(info({"a": revision(), "c": revision(), "b": revision()}, default="b", gateway="b"), "b") is None
    assert previous_revision(info({"b": revision()}, default="b"), "b") is None


def test_an_old_revision_goes_only_when_unused_in_both_reads():
    used = info({"a": revision(in_use_by=["3 pods"]), "b": revision()}, default="b")
    free = info({"a": revision(), "b": revision()}, default="b")
    assert removal(free, free, "b") == {"remove": ["a"], "kept": {}}
    assert removal(free, used, "b") == {"remove": [], "kept": {"a": ["3 pods"]}}
    assert removal(used, free, "b")["kept"] == {"a": ["3 pods (at the start of the grace period)"]}
    # istio-base still defaults to it: its validator would point at a removed Service
    assert removal(free, info({"a": revision(), "b": revision()}, default="a"), "b")["kept"] == {
        "a": ["istio-base defaultRevision"]}


OK_PROBES = {"b": {"injection": {"ok": True, "message": "injected"}, "validation": {"ok": True, "message": "denied"}}}


def test_gates_pass_on_a_cluster_that_serves_the_new_revision():
    state = info({"a": revision(), "b": revision()}, default="b", gateway="b", probes=OK_PROBES)
    check = {"not_ready": {}, "gateway": {"address": "10.0.0.1"}}
    assert gate_failures(state, "b", check, "10.0.0.1") == []


def test_each_failed_gate_is_named_with_its_evidence():
    probes = {"b": {"injection": {"ok": False, "message": "connection refused"}, "validation": {"ok": True}}}
    state = info({"a": revision(), "b": revision(ready=False)}, default="b", gateway="a", probes=probes,
                 dangling=[{"kind": "ValidatingWebhookConfiguration", "name": "istiod-default-validator",
                            "webhook": "validation.istio.io", "service": "istiod-c"}])
    check = {"not_ready": {"istiod-b": "0 of 1 replicas available"}, "gateway": {"address": "10.0.0.2"}}
    failures = gate_failures(state, "b", check, "10.0.0.1")
    assert [f["gate"] for f in failures] == ["istiod_ready", "injection", "webhooks", "gateway", "fleet_check", "fleet_check"]
    assert "connection refused" in failures[1]["evidence"] and "istiod-c" in failures[2]["evidence"]
    assert "changed from 10.0.0.1 to 10.0.0.2" in failures[5]["evidence"]
    message = gate_message("west", "b", failures)
    assert message.startswith("west: the upgrade to revision b stopped at gate(s) istiod_ready, injection, webhooks, "
                              "gateway, fleet_check.") and "mesh_upgrade_rollback=true" in message


def test_rollback_returns_to_the_previous_revision_and_removes_the_new_one():
    state = info({"a": revision(), "b": revision()}, {"default": "a", "stable": "a", "canary": "b"}, "a")
    plan = rollback_plan(state, "b", TAGS)
    assert plan["needed"] and plan["previous"] == "a" and plan["remove"] == "b"
    assert plan["tags"] == {"default": "a", "stable": "a", "canary": "a"}
    assert not rollback_plan(STEADY_A, "b", TAGS)["needed"]


def test_rollback_refuses_when_the_previous_revision_is_gone_or_unclear():
    with pytest.raises(MeshError, match="no previous revision is installed any more"):
        rollback_plan(info({"b": revision()}, default="b"), "b", TAGS)
    with pytest.raises(MeshError, match="a, c run beside b"):
        rollback_plan(info({"a": revision(), "b": revision(), "c": revision()}, default="b", gateway="b"), "b", TAGS)


def test_a_rollback_to_an_in_place_istiod_writes_no_tag_for_it():
    state = info({"default": revision(), "b": revision()}, {"default": "b", "stable": "b", "canary": "b"}, "b")
    assert rollback_plan(state, "b", TAGS)["tags"] == {}


def test_the_version_window_in_words():
    assert window_problem({"ok": True}, "west", "1.31.0") is None
    words = window_problem({"ok": False, "outside": ["east"], "max": "1.32", "unparsed": []}, "west", "1.32.0")
    assert "cluster(s) east would run more than one minor from the fleet's newest (1.32)" in words


def test_the_role_offers_the_phases_to_stop_after():
    specs = yaml.safe_load((REPO / "roles" / "upgrade" / "meta" / "argument_specs.yml").read_text())
    assert specs["argument_specs"]["main"]["options"]["mesh_upgrade_stop_after"]["choices"] == [""] + list(PHASES)


def test_the_new_istiod_alone_is_judged_before_anything_moves_to_it():
    probes = {"b": {"injection": {"ok": False, "message": "connection refused"}, "validation": {"ok": True}}}
    state = info({"a": revision(), "b": revision()}, default="a", gateway="a", probes=probes)
    gates = gate_failures(state, "b", gates=("istiod_ready", "injection", "validation"))
    assert [f["gate"] for f in gates] == ["injection"]


CANARY_GW = {"name": "istio-eastwestgateway-b", "revision": "b", "ready": True}


def test_the_canary_gateway_strategy_runs_a_second_release_then_moves_the_gateway_then_removes_it():
    plan = upgrade_plan(STEADY_A, "b", "1.31.0", TAGS, gateway_strategy="canary")
    assert plan["gateway"] == {"canary": "istio-eastwestgateway-b", "remove": ["istio-eastwestgateway-b"]}
    assert "canary gateway istio-eastwestgateway-b" in next(p["what"] for p in plan["phases"] if p["name"] == "gateway")
    assert upgrade_plan(STEADY_A, "b", "1.31.0", TAGS)["gateway"] == {"canary": None, "remove": []}
    with pytest.raises(MeshError, match="mesh_upgrade_gateway_strategy=blue"):
        upgrade_plan(STEADY_A, "b", "1.31.0", TAGS, gateway_strategy="blue")


def test_a_canary_gateway_left_behind_is_removed_on_resume_and_keeps_the_cluster_not_done():
    moved = info({"b": revision()}, {"default": "b", "stable": "b", "canary": "b"}, "b", gateway="b")
    left = dict(moved, gateway_canaries=[CANARY_GW])
    assert not is_done(left, "b", "1.31.0", TAGS)
    plan = upgrade_plan(left, "b", "1.31.0", TAGS, gateway_strategy="canary")
    assert "gateway" in todo(plan) and plan["gateway"] == {"canary": None, "remove": ["istio-eastwestgateway-b"]}


def test_rollback_removes_a_canary_gateway_left_behind():
    mid = info({"a": revision(), "b": revision()}, {"default": "a", "stable": "a", "canary": "b"}, "a")
    plan = rollback_plan(dict(mid, gateway_canaries=[CANARY_GW]), "b", TAGS)
    assert plan["remove_gateways"] == ["istio-eastwestgateway-b"] and "canary gateway istio-eastwestgateway-b" in plan["message"]
    assert rollback_plan(mid, "b", TAGS)["remove_gateways"] == []


FLEET_PLAN = {
    "gateways": {"west": {}, "east": {}, "south": {}},
    "allocations": {"httpbin.demo.global": "240.10.0.2", "cart.shop.global": "240.10.0.3"},
    "services": [{"host": "httpbin.demo.global", "namespace": "demo", "clusters": ["west"]},
                 {"host": "cart.shop.global", "namespace": "shop", "clusters": ["west", "east"],
                  "export_to": {"west": ["east"]}}],
    "selection": {},
}


def test_the_importers_of_a_cluster_follow_the_plans_import_selection():
    assert importers(FLEET_PLAN, "west") == [
        {"name": "east", "hosts": ["cart.shop.global", "httpbin.demo.global"],
         "records": {"cart.shop.global": "240.10.0.3", "httpbin.demo.global": "240.10.0.2"}},
        {"name": "south", "hosts": ["httpbin.demo.global"], "records": {"httpbin.demo.global": "240.10.0.2"}}]
    assert [i["name"] for i in importers(FLEET_PLAN, "east")] == ["south", "west"]
    assert importers(FLEET_PLAN, "south") == []
    assert importers(FLEET_PLAN, "west", dns_records=False)[1]["records"] == {}


def importer_run(name, records, check=None, entries=None):
    """One importer's items of the two loops, as mesh_check (which judges the .global names) and
    service_entry in check mode register them."""
    item = {"name": name, "hosts": sorted(records), "records": records}
    check = dict({"item": item, "dns": check_dns(dict(records), {}, None, records), "not_ready": {}}, **(check or {}))
    entries = dict({"item": item, "unchanged": 2, "destination_rules": {"unchanged": 2}}, **(entries or {}))
    return check, entries


def test_the_importer_gate_passes_when_every_importer_still_routes_to_this_cluster():
    gate = importer_gate([importer_run("east", {"h.global": "240.10.0.2"})], "west", "b")
    assert gate == {"ok": True, "failures": [], "message": ""}


def test_a_failing_importer_is_named_with_its_evidence_and_stops_the_rollout():
    runs = [importer_run("east", {"h.global": "240.10.0.2"}),
            importer_run("south", {"h.global": "240.10.0.2"}, check={"dns": check_dns({}, {}, None, {"h.global": "240.10.0.2"}),
                                                                     "not_ready": {"istiod-a": "0/1 available"}},
                         entries={"updated": 1})]
    gate = importer_gate(runs, "west", "b")
    assert not gate["ok"] and {f["gate"] for f in gate["failures"]} == {"importers"}
    evidence = [f["evidence"] for f in gate["failures"]]
    assert all(e.startswith("importer south: ") for e in evidence), evidence
    assert any("service_entries: 0 missing, 1 different" in e for e in evidence)
    assert any("dns: 1 of 1 records missing or wrong" in e for e in evidence)
    assert any("istiod-a: 0/1 available" in e for e in evidence)
    assert gate["message"].startswith("west: the upgrade to revision b stopped at gate(s) importers.")
