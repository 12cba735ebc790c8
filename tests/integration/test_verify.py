"""The fleet check: a converged mesh passes; each kind of breakage fails with the right cluster
and fix named; the next site.yml repairs what it can while a stopped cluster is reported."""

from __future__ import annotations

import json
import re

from labtools import lab_command

from ansible_collections.meshops.multicluster.plugins.module_utils._dns import corefile
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revision_names import values_configmap_name


def report(lab):
    return json.loads((lab.dir / "reports" / "mesh-report.json").read_text())


def failures(lab):
    """{(cluster, check): fix} of every failed check in the last report."""
    return {(c["name"], check): r.get("fix") for c in report(lab)["clusters"]
            for check, r in c["results"].items() if r["status"] == "fail"}


def test_a_converged_mesh_passes_every_check(lab, converged, ansible_playbook):
    run = ansible_playbook("verify.yml", extra_vars={"mesh_verify_trace_hosts": ["httpbin.bar.global"]})
    assert run.rc == 0, run.stdout[-3000:]
    assert "All checks pass" in run.stdout and run.changed == 0
    model = report(lab)
    assert model["ok"] and {c["name"] for c in model["clusters"]} == set(lab.names)
    assert all(r["status"] == "pass" for c in model["clusters"] for r in c["results"].values())
    assert (lab.dir / "reports" / "mesh-report.html").read_text().startswith("<!DOCTYPE html>")
    first = next(c for c in model["clusters"] if c["name"] == lab.names[0])
    assert "httpbin.bar" in first["exports"]
    # What a user checks: the revision each cluster runs, where its tags point, the gateway's revision,
    # and the fleet's version window.
    revision = lab.revision
    assert model["version_window"]["ok"] and model["version_window"]["outside"] == []
    for cluster in model["clusters"]:
        revisions = cluster["revisions"]
        assert list(revisions["revisions"]) == [revision] and revisions["default_revision"] == revision
        assert {tag: t["revision"] for tag, t in revisions["tags"].items()} == dict.fromkeys(
            ["default", "stable", "canary"], revision)
        assert revisions["gateway"]["revision"] == revision and revisions["dangling_webhooks"] == []
        assert "gateway istio-eastwestgateway" in revisions["revisions"][revision]["in_use_by"]
        assert re.search(r"revision %s / %s: Istio \S+; ready; tags canary, default, stable; gateway "
                         r"istio-eastwestgateway" % (cluster["name"], revision), run.stdout)
    assert "version window: Istio " in run.stdout and "within one minor" in run.stdout
    # The host named is traced from every cluster that imports it, each trace a section of the report.
    assert [(t["source"], t["ok"]) for t in model["traces"]] == [(name, True) for name in lab.names]
    assert "== httpbin.bar.global from %s: every hop passes" % lab.names[1] in run.stdout
    assert "<h2>Traces</h2>" in (lab.dir / "reports" / "mesh-report.html").read_text()


def test_breakages_are_named_with_their_fix_and_site_repairs_them(lab, converged, ansible_playbook):
    first, second, third = lab.names[:3]
    lab.client(first).delete("Secret", "cacerts", "istio-system")
    other_root = lab.client(second).get("Secret", "cacerts", "istio-system")
    other_root["data"]["root-cert.pem"] = other_root["data"]["ca-cert.pem"]  # a chain to another root
    lab.client(second).request("PUT", "/api/v1/namespaces/istio-system/secrets/cacerts", body=json.dumps(other_root))
    dns = lab.client(third).get("ConfigMap", "coredns", "kube-system")
    dns["data"]["Corefile"] = corefile.remove(dns["data"]["Corefile"], "global")
    lab.client(third).request("PUT", "/api/v1/namespaces/kube-system/configmaps/coredns", body=json.dumps(dns))
    lab.client(second).delete("ServiceEntry", "httpbin.bar.global", "bar")

    run = ansible_playbook("verify.yml")
    assert run.rc != 0
    found = failures(lab)
    assert found[(first, "root")] == "run playbooks/trust.yml"
    assert found[(second, "root")] == "run playbooks/trust.yml"
    assert found[(third, "dns")] == "run playbooks/dns.yml"
    assert found[(second, "service_entries")] == "run playbooks/services.yml"
    assert (first, "dns") not in found and (third, "root") not in found

    repair = ansible_playbook("site.yml")
    assert repair.rc == 0, repair.stdout[-3000:]
    assert ansible_playbook("verify.yml").rc == 0 and failures(lab) == {}


def exporters(client, host):
    entry = client.get("ServiceEntry", host, host.split(".")[1])
    return entry and entry["metadata"]["annotations"]["multicluster.meshops.io/exported-from"]


def test_a_stopped_cluster_is_reported_and_the_others_are_still_repaired(lab, converged, ansible_playbook):
    first, second, third = lab.names[:3]
    lab.client(third).apply({"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": "cart", "namespace": "default", "labels": {"multicluster.meshops.io/export": "true"}},
        "spec": {"ports": [{"name": "http", "port": 8080}]}})
    assert ansible_playbook("services.yml").rc == 0
    cart_vip = lab.client(first).get("ServiceEntry", "cart.default.global", "default")["spec"]["addresses"]
    lab.client(first).delete("Secret", "cacerts", "istio-system")
    lab_command("apiserver", third, "stop")
    try:
        run = ansible_playbook("verify.yml")
        assert run.rc != 0
        found = failures(lab)
        assert found[(third, "root")] == "check the cluster's API server and the credentials in the inventory"
        assert found[(first, "root")] == "run playbooks/trust.yml"
        # a canary that fails stops the rollout before any other cluster
        canary = ansible_playbook("trust.yml", "-e", "mesh_rollout_canary=" + third)
        summary = canary.stdout.split("MESH ROLLOUT SUMMARY")[-1]
        assert canary.rc != 0 and "converged (0)" in summary and "failed (1):\n  %s - Trust" % third in summary
        assert "not reached (2)" in summary
        assert lab.client(first).get("Secret", "cacerts", "istio-system") is None
        # the next site.yml repairs the others and converges what they export, and keeps what the
        # stopped cluster exports everywhere with its VIP
        lab.client(first).apply({"apiVersion": "v1", "kind": "Service", "metadata": {
            "name": "orders", "namespace": "default", "labels": {"multicluster.meshops.io/export": "true"}},
            "spec": {"ports": [{"name": "grpc", "port": 9090}]}})
        site = ansible_playbook("site.yml")
        assert site.rc != 0 and site.recap[third]["failed"] == 1
        summary = site.stdout.split("MESH ROLLOUT SUMMARY")[-1]
        assert "converged (2): %s, %s" % (first, second) in summary and "cannot reach the Kubernetes API" in summary
        assert lab.client(first).get("Secret", "cacerts", "istio-system") is not None  # repaired meanwhile
        assert exporters(lab.client(second), "orders.default.global") == first
        assert exporters(lab.client(second), "cart.default.global") == third
        assert lab.client(first).get("ServiceEntry", "cart.default.global", "default")["spec"]["addresses"] == cart_vip
        assert (third, "root") in failures(lab)
    finally:
        lab_command("apiserver", third, "start")
    assert ansible_playbook("site.yml").rc == 0
    assert exporters(lab.client(third), "orders.default.global") == first
    assert ansible_playbook("verify.yml").rc == 0
    for name in (first, third):
        lab.client(name).delete("Service", {first: "orders", third: "cart"}[name], "default")
    # the fleet as the next test expects it: their entries pruned everywhere
    assert ansible_playbook("services.yml").rc == 0


def test_malformed_objects_fail_their_cluster_naming_them_and_the_others_pass(lab, converged, ansible_playbook):
    """A bad line in the zone records and istiod values that are not JSON, in one cluster: that
    cluster's checks fail naming the objects, the others pass, no traceback."""
    first, others = lab.names[0], lab.names[1:]
    client = lab.client(first)
    records = client.get("ConfigMap", "istiocoredns-records", "istio-system")["data"]
    values_configmap = values_configmap_name(lab.revision)
    values = client.get("ConfigMap", values_configmap, "istio-system")["data"]
    client.merge_patch("ConfigMap", "istiocoredns-records", "istio-system",
                       {"data": {"global.hosts": records["global.hosts"] + "240.0.0.300 bad.line.global\n"}})
    client.merge_patch("ConfigMap", values_configmap, "istio-system", {"data": {"original-values": "{not json"}})
    try:
        run = ansible_playbook("verify.yml")
        assert run.rc != 0
        assert "Traceback" not in run.stdout + run.stderr and "MODULE FAILURE" not in run.stdout
        clusters = {c["name"]: c for c in report(lab)["clusters"]}
        assert clusters[first]["reachable"]
        dns, control_plane = (clusters[first]["results"][check] for check in ("dns", "control_plane"))
        assert dns["status"] == "fail" and dns["object"] == "ConfigMap istio-system/istiocoredns-records"
        assert "line" in dns["detail"] and "240.0.0.300" in dns["detail"]
        assert control_plane["status"] == "fail" and control_plane["object"] == "ConfigMap istio-system/" + values_configmap
        assert set(failures(lab)) == {(first, "dns"), (first, "control_plane")}
        for name in others:
            assert {r["status"] for r in clusters[name]["results"].values()} == {"pass"}, clusters[name]
    finally:
        client.merge_patch("ConfigMap", "istiocoredns-records", "istio-system", {"data": records})
        client.merge_patch("ConfigMap", values_configmap, "istio-system", {"data": values})
    assert ansible_playbook("verify.yml").rc == 0
