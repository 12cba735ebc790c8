"""The fleet check's judgement: failover order as istiod derives it, the services step's drift, failed
checks counted once, and the reader of what the verify role gathered per cluster."""

import json

from ansible_collections.meshops.multicluster.plugins.module_utils._verify.checks import (
    check_dns, check_intermediate, check_revisions, check_services_set, control_plane_identity, evaluate, failed_checks, failover_order,
    malformed_findings)
from ansible_collections.meshops.multicluster.plugins.module_utils._verify.report import render_html, render_text

LOCALITIES = {"cluster1": "lab-east/zone1", "cluster2": "lab-west/zone2", "cluster3": "lab-east/zone3",
              "cluster4": "lab-east/zone1/rack4"}


def test_an_exporting_cluster_fails_over_from_itself_to_the_others_nearest_first():
    assert failover_order("cluster1", ["cluster1", "cluster2", "cluster3"], LOCALITIES) == \
        [["cluster1"], ["cluster3"], ["cluster2"]]


def test_an_importing_cluster_prefers_its_region_then_the_rest():
    assert failover_order("cluster3", ["cluster1", "cluster2"], LOCALITIES) == [["cluster1"], ["cluster2"]]
    # same region and zone, other subzone: before the rest of the region
    assert failover_order("cluster4", ["cluster1", "cluster2", "cluster3"], LOCALITIES) == \
        [["cluster1"], ["cluster3"], ["cluster2"]]


def test_without_locality_failover_or_a_client_locality_there_is_one_tier():
    assert failover_order("cluster3", ["cluster2", "cluster1"], LOCALITIES, mode="none") == [["cluster1", "cluster2"]]
    assert failover_order("cluster9", ["cluster2", "cluster1"], LOCALITIES) == [["cluster1", "cluster2"]]


def test_drift_of_either_kind_fails_with_the_fix():
    assert check_services_set({"created": 0, "updated": 0, "deleted": 0, "unchanged": 4}, "DestinationRules") == \
        {"status": "pass", "detail": "4 as desired"}
    failed = check_services_set({"created": 1, "updated": 0, "deleted": 2, "unchanged": 1}, "DestinationRules")
    assert failed["status"] == "fail" and failed["detail"] == "1 missing, 0 different, 2 stale"
    assert failed["object"].startswith("DestinationRules labelled") and failed["fix"] == "run playbooks/services.yml"
    assert check_services_set(None, "ServiceEntries")["status"] == "skip"


def test_the_report_shows_each_multi_cluster_service_failover_order():
    services = [{"host": "db.shop.global", "clusters": ["cluster1", "cluster2"]},
                {"host": "web.shop.global", "clusters": ["cluster1"]}]
    counts = {"created": 0, "updated": 1, "deleted": 0, "unchanged": 1,
              "destination_rules": {"created": 0, "updated": 0, "deleted": 0, "unchanged": 2}}
    clusters = [{"name": name, "reachable": True, "check": {}, "trust": {}, "service_entries": counts}
                for name in ("cluster1", "cluster2", "cluster3")]
    fleet_plan = {"services": services, "gateways": {n: {"locality": LOCALITIES[n]} for n in LOCALITIES}}
    model = evaluate(clusters, {"plan": json.dumps(fleet_plan)})
    assert model["failover"] == {"mode": "locality", "services": [{"host": "db.shop.global", "orders": {
        "cluster1": [["cluster1"], ["cluster2"]], "cluster2": [["cluster2"], ["cluster1"]],
        "cluster3": [["cluster1"], ["cluster2"]]}}]}
    results = model["clusters"][0]["results"]
    assert results["service_entries"]["status"] == "fail" and results["destination_rules"]["status"] == "pass"
    assert "failover db.shop.global: cluster1: cluster1 \u2192 cluster2; cluster2: cluster2 \u2192 cluster1; " \
           "cluster3: cluster1 \u2192 cluster2" in render_text(model)
    page = render_html(model)
    assert "Failover order of services exported from several clusters (1, locality)" in page
    assert "<td>cluster3</td><td>cluster1 \u2192 cluster2</td>" in page


def test_an_istiod_that_runs_a_ca_of_its_own_is_named_with_the_fix():
    from ansible_collections.meshops.multicluster.plugins.module_utils._verify.checks import check_root
    trust = {"exists": True, "root_fingerprint": "sha256:mesh"}
    assert check_root(trust, "sha256:mesh", "istio-system", ["sha256:mesh", "sha256:next"])["status"] == "pass"
    assert check_root(trust, "sha256:mesh", "istio-system", None)["status"] == "pass"  # nothing published yet
    own = check_root(trust, "sha256:mesh", "mesh-system", ["sha256:self-signed"])
    assert own["status"] == "fail" and "runs a CA of its own" in own["detail"]
    assert own["object"] == "Deployment mesh-system/istiod" and "control_plane.yml" in own["fix"]


def fresh(name):
    """A cluster where nothing is installed, as the fleet check reads it in a check-mode site.yml."""
    return {"name": name, "network": "n", "reachable": True, "trust": {"exists": False},
            "check": {"releases": {}, "gateway": None, "not_ready": {}, "malformed": [],
                      "dns": check_dns(None, {}, False, {"a.b.global": "240.0.0.1"})},
            "service_entries": {"created": 1, "updated": 0, "deleted": 0, "unchanged": 0}}


FRESH_FLEET = {"root_fingerprint": "ab", "chart_version": "1.29.0",
               "releases": ["istio-base", "istiod", "istio-eastwestgateway"], "gateway_name": "istio-eastwestgateway"}


def test_in_check_mode_what_the_steps_before_would_write_is_pending_and_the_report_passes():
    model = evaluate([fresh("cluster1"), fresh("cluster2")],
                     dict(FRESH_FLEET, pending_steps=["trust", "control_plane", "dns", "services"]))
    statuses = {r["status"] for c in model["clusters"] for name, r in c["results"].items() if name != "held_hosts"}
    assert model["ok"] and statuses == {"pending", "skip"} and model["pending"] == 2 * 6
    assert {c["results"]["held_hosts"]["status"] for c in model["clusters"]} == {"pass"}  # nothing held back
    gateway = model["clusters"][0]["results"]["gateway"]
    assert gateway["detail"].startswith("no gateway: Helm release istio-eastwestgateway not installed")
    text = render_text(model)
    assert "PENDING" in text and "12 pending (check mode" in text.splitlines()[0] and "FAIL" not in text
    assert '<header class="pending">' in render_html(model)


def test_a_real_run_or_the_check_alone_still_fails_on_a_fresh_fleet():
    for fleet in (FRESH_FLEET, dict(FRESH_FLEET, pending_steps=[])):
        model = evaluate([fresh("cluster1")], fleet)
        assert not model["ok"] and model["pending"] == 0
    # A step that did not run before the check leaves its failures failed, and so do malformed objects.
    bad = fresh("cluster1")
    bad["check"]["malformed"] = [{"check": "dns", "object": "ConfigMap istio-system/istiocoredns-records",
                                  "problem": "line 1 of global.hosts: 'x' is not '<ip> <host>'"}]
    model = evaluate([bad], dict(FRESH_FLEET, pending_steps=["trust"]))
    results = model["clusters"][0]["results"]
    assert results["root"]["status"] == "pending" and results["control_plane"]["status"] == "fail"
    assert results["dns"]["status"] == "fail" and not model["ok"]


def test_failed_checks_are_counted_once_and_agree_with_the_verdict_and_the_text():
    broken = fresh("cluster2")
    broken["trust"] = {"exists": True, "valid": True, "root_fingerprint": "ab", "intermediate": {"days_left": 3}}
    unreachable = {"name": "cluster3", "reachable": False, "error": "connection refused"}
    model = evaluate([broken, unreachable], dict(FRESH_FLEET, pending_steps=["services"]))
    failed = failed_checks(model["clusters"])
    # The intermediate's warning and the pending ServiceEntries are not failures; the unreachable cluster is one.
    assert failed == [
        "cluster2: control_plane (Helm release(s) istio-base, istiod, istio-eastwestgateway not installed)",
        "cluster2: gateway (no gateway: Helm release istio-eastwestgateway not installed)",
        "cluster2: dns (the cluster DNS does not delegate zone global to the zone server)",
        "cluster3: root (cluster unreachable: connection refused)"]
    assert not model["ok"] and model["pending"] == 1
    assert render_text(model).splitlines()[0].endswith(": 4 failed, 1 warning, 1 pending, 1 cluster unreachable")
    assert failed_checks(evaluate([fresh("cluster1")], dict(FRESH_FLEET, pending_steps=[
        "trust", "control_plane", "dns", "services"]))["clusters"]) == []


# --- the reader of what the verify role gathered per cluster ---------------------------------

def test_malformed_findings_read_mesh_checks_and_the_trust_checks_unreadable_cacerts():
    cluster = fresh("cluster1")
    cluster["check"]["malformed"] = [{"check": "dns", "object": "ConfigMap x/istiocoredns-records", "problem": "line 1"}]
    cluster["trust"] = {"exists": True, "valid": False, "reasons": ["malformed"],
                        "reason": "malformed: data.ca-cert.pem is not base64"}
    assert malformed_findings(cluster, "mesh-system") == [
        {"check": "dns", "object": "ConfigMap x/istiocoredns-records", "problem": "line 1"},
        {"check": "root", "object": "Secret mesh-system/cacerts", "problem": "data.ca-cert.pem is not base64"},
        {"check": "intermediate", "object": "Secret mesh-system/cacerts", "problem": "data.ca-cert.pem is not base64"}]
    cluster["trust"] = {"exists": True, "valid": False, "reasons": ["malformed"]}
    assert malformed_findings(cluster)[-1]["problem"] == "cannot be read"
    # What a cluster that could not be read leaves: no check, no trust, or null.
    for empty in ({}, {"check": None, "trust": None}, {"check": {}, "trust": {"reasons": None}}):
        assert malformed_findings(empty) == []


def test_the_control_plane_identity_ignores_per_cluster_values_and_reads_missing_parts_as_empty():
    def check(values, version="1.29.0"):
        return {"releases": {"istiod": {"version": version, "values": values}}}

    one = check({"global": {"hub": "h", "network": "n1", "multiCluster": {"clusterName": "c1", "enabled": True}}})
    two = check({"global": {"hub": "h", "network": "n2", "multiCluster": {"clusterName": "c2", "enabled": True}}})
    assert control_plane_identity(one) == control_plane_identity(two)
    assert control_plane_identity(one) != control_plane_identity(check({"global": {"hub": "other"}}))
    assert control_plane_identity(one) != control_plane_identity(dict(one, releases={"istiod": dict(
        one["releases"]["istiod"], version="1.30.0")}))
    assert one["releases"]["istiod"]["values"]["global"]["network"] == "n1"  # the input is left as it was
    assert control_plane_identity({}) == control_plane_identity({"releases": {"istiod": {}}})
    assert control_plane_identity(check({"global": "not a dict"})) == control_plane_identity(check({"global": "not a dict"}))


def test_a_reachable_cluster_with_nothing_read_is_judged_not_a_traceback():
    nothing = {"name": "cluster2", "reachable": True, "check": None, "trust": None, "service_entries": None}
    model = evaluate([{"name": "cluster1", "reachable": True}, nothing], FRESH_FLEET)
    for cluster in model["clusters"]:
        assert cluster["results"]["root"]["detail"] == "no cacerts Secret"
        assert cluster["results"]["service_entries"]["status"] == "skip"
        assert cluster["gateway"] is None and cluster["exports"] == [] and cluster["imports"] == []
    assert [line.split(" (")[0] for line in failed_checks(model["clusters"])] == [
        "%s: %s" % (name, check) for name in ("cluster1", "cluster2")
        for check in ("root", "intermediate", "control_plane", "gateway")]


# --- revisions: dangling webhooks, the fleet's version window, unused revisions ----------------

def revisions(*installed, default="1-31-0", dangling=(), unused=()):
    """read_revisions' result: the given revisions (<rev>:<version>), in use but those in unused."""
    revs = {}
    for item in installed:
        rev, version = item.split(":")
        revs[rev] = {"release": "istiod-" + rev, "version": version, "ready": True, "service": True,
                     "in_use_by": [] if rev in unused else ["tag default"]}
    return {"revisions": revs, "tags": {"default": {"revision": default, "ours": True}}, "default_revision": default,
            "gateway": {"name": "istio-eastwestgateway", "revision": default, "ready": True},
            "namespaces": {}, "pods": {}, "dangling_webhooks": list(dangling)}


def revisioned(name, info):
    return {"name": name, "network": "n", "reachable": True, "trust": {}, "check": {"revisions": info}}


def test_a_webhook_calling_a_missing_service_fails_naming_it():
    gone = {"kind": "ValidatingWebhookConfiguration", "name": "istio-validator-1-30-0-istio-system",
            "webhook": "rev.validation.istio.io", "service": "istio-system/istiod-1-30-0"}
    found = check_revisions(revisions("1-31-0:1.31.0", dangling=[gone]), {}, "cluster1")
    assert found["status"] == "fail" and found["object"] == "ValidatingWebhookConfiguration istio-validator-1-30-0-istio-system"
    assert "calls Service istio-system/istiod-1-30-0" in found["detail"] and "rev.validation.istio.io" in found["detail"]
    assert "upgrade.yml" in found["fix"]
    tag = dict(gone, kind="MutatingWebhookConfiguration", name="istio-revision-tag-stable")
    two = check_revisions(revisions("1-31-0:1.31.0", dangling=[gone, tag]), {}, "cluster1")
    assert two["detail"].startswith("2 webhook(s)") and "also MutatingWebhookConfiguration istio-revision-tag-stable" \
        in two["detail"]


def test_a_fleet_outside_one_minor_fails_every_cluster_outside_naming_them():
    clusters = [revisioned("cluster1", revisions("1-31-0:1.31.0")),
                revisioned("cluster2", revisions("1-31-0:1.31.0", "1-30-0:1.30.0", unused=["1-30-0"])),
                revisioned("cluster3", revisions("1-29-0:1.29.0", default="1-29-0"))]
    model = evaluate(clusters, {})
    assert model["version_window"]["outside"] == ["cluster3"] and not model["ok"]
    results = {c["name"]: c["results"]["revisions"] for c in model["clusters"]}
    assert results["cluster3"]["status"] == "fail"
    assert results["cluster3"]["detail"] == ("Istio versions of the fleet span 1.29 to 1.31, more than one minor; "
                                             "outside the window: cluster3")
    assert results["cluster1"]["status"] == "pass" and results["cluster1"]["detail"] == "revision 1-31-0 (1.31.0)"
    assert [line for line in failed_checks(model["clusters"]) if "revisions" in line] == [
        "cluster3: revisions (%s)" % results["cluster3"]["detail"]]
    text = render_text(model)
    assert "version window: Istio 1.29 to 1.31: more than one minor apart; outside the window: cluster3 (FAIL)" in text
    # An unused revision is a note, not a problem.
    assert results["cluster2"]["status"] == "pass"
    assert results["cluster2"]["detail"] == ("revision 1-31-0 (1.31.0), 2 installed; unused: 1-30-0 "
                                             "(playbooks/upgrade.yml removes it)")
    assert "revision cluster2 / 1-30-0: Istio 1.30.0; unused: playbooks/upgrade.yml removes it" in text


def test_a_fleet_within_one_minor_passes_and_a_cluster_without_revisions_read_is_skipped():
    clusters = [revisioned("cluster1", revisions("1-31-0:1.31.0", "1-30-0:1.30.0")),
                revisioned("cluster2", revisions("1-30-0:1.30.0", default="1-30-0")),
                {"name": "cluster3", "reachable": True, "check": {}},
                {"name": "cluster4", "reachable": False}]
    model = evaluate(clusters, {})
    assert model["version_window"] == {"ok": True, "min": "1.30", "max": "1.31", "outside": [], "unparsed": []}
    results = [c["results"]["revisions"]["status"] for c in model["clusters"]]
    assert results == ["pass", "pass", "skip", "skip"]
    assert model["clusters"][0]["revisions"]["default_revision"] == "1-31-0" and model["clusters"][2]["revisions"] is None


def test_a_version_not_understood_warns_and_stays_out_of_the_window():
    found = check_revisions(revisions("1-31-0:1.31.0"), {"ok": False, "min": "1.31", "max": "1.31", "outside": [],
                                                         "unparsed": ["cluster1: 'main' is not a version"]}, "cluster1")
    assert found["status"] == "warn" and "'main' is not a version" in found["detail"]
    assert check_revisions(None, {}, "cluster1")["status"] == "skip"


# --- revocation in the trust column ----------------------------------------------------------

ROOT_CRL = {"issuer": "CN=Root CA,O=Istio", "revoked": ["6003b40d"], "this_update": "2026-12-06T09:57:11Z",
            "next_update": "2027-01-05T10:02:11Z", "age_days": 2, "days_left": 27}


def test_intermediate_pass_shows_the_crl():
    trust = {"exists": True, "valid": True, "intermediate": {"days_left": 700}, "crl": [ROOT_CRL], "crl_reasons": []}
    assert check_intermediate(trust, 30) == {
        "status": "pass", "detail": "700 days left; CRL 2 day(s) old, next update 2027-01-05T10:02:11Z (27 days), "
                                    "revoked: 6003b40d"}
    named = check_intermediate(trust, 30, revoked_clusters={"6003b40d": {"cluster": "cluster3"}, "77": "junk"})
    assert named["detail"].endswith("revoked: cluster3 6003b40d")


def test_a_crl_problem_fails_the_cluster_with_the_fix():
    trust = {"exists": True, "valid": True, "intermediate": {"days_left": 700}, "crl_reasons": ["expired"],
             "crl_reason": "expired: CN=Root CA,O=Istio (next update 2026-12-01T00:00:00Z)"}
    out = check_intermediate(trust, 30)
    assert out["status"] == "fail" and out["detail"].startswith("revocation: expired: CN=Root CA")
    assert out["fix"].startswith("run playbooks/trust.yml -e mesh_ca_revocation=true") and out["step"] == "trust"
    trust.update(crl_reasons=["not published"], crl_reason="not published: ...")
    assert "Failed to update new Plug-in CA certs" in check_intermediate(trust, 30)["fix"]


def test_a_broken_trace_fails_the_report_and_shows_its_hops():
    hops = [{"hop": 1, "check": "export", "cluster": "cluster1", "status": "PASS", "evidence": ["exported by cluster2"],
             "fix": ""},
            {"hop": 2, "check": "dns", "cluster": "cluster1", "status": "FAIL",
             "evidence": ["the zone server holds no record for a.b.global; its VIP is 240.0.0.1"], "fix": "run playbooks/services.yml"}]
    broken = {"host": "a.b.global", "source": "cluster1", "ok": False, "broken": hops[1], "hops": hops}
    passing = {"host": "c.d.global", "source": "cluster1", "ok": True, "broken": None, "hops": hops[:1]}
    fleet = dict(FRESH_FLEET, pending_steps=["trust", "control_plane", "dns", "services"], traces=[passing, broken])
    model = evaluate([fresh("cluster1")], fleet)
    assert not model["ok"]
    assert failed_checks(model["clusters"], model["traces"]) == ["trace a.b.global from cluster1: hop 2 (dns) in cluster1"]
    text = render_text(model)
    assert text.splitlines()[0].endswith("1 trace broken")
    assert "== c.d.global from cluster1: every hop passes" in text
    assert "== a.b.global from cluster1: broken at hop 2 (dns) in cluster1" in text and "fix: run playbooks/services.yml" in text
    page = render_html(model)
    assert "<h2>Traces</h2>" in page and "<details open>" in page and "a.b.global from cluster1: broken at hop 2" in page
