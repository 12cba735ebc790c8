"""Malformed objects read from a cluster: a failed check naming the object and what is wrong with
it, never a traceback; the other clusters' rows are unaffected."""

import base64
import gzip

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils._trust import cacerts
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane import helm_release
from ansible_collections.meshops.multicluster.plugins.module_utils._dns import zone_records
from ansible_collections.meshops.multicluster.plugins.module_utils._verify.checks import evaluate, judge, result
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.malformed import MalformedObject, reading
from ansible_collections.meshops.multicluster.plugins.module_utils._verify.report import render_html, render_text
from ansible_collections.meshops.multicluster.plugins.module_utils._verify import cluster_reader
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import ZONE_RECORDS
from tests.unit.fake_api import FakeApi, fake_client

RECORDS = "ConfigMap istio-system/istiocoredns-records"


def records_configmap(text):
    return {"metadata": {"name": ZONE_RECORDS, "namespace": "istio-system"},
            "data": {zone_records.RECORDS_KEY: text}}


def test_reading_names_the_object_and_what_is_wrong():
    with pytest.raises(MalformedObject) as caught:
        with reading("ConfigMap ns/x"):
            {}["release"]
    assert caught.value.finding("dns") == {"check": "dns", "object": "ConfigMap ns/x", "problem": "no field 'release'"}
    # A problem given by the reader replaces the parser's text (which may quote secret content).
    with pytest.raises(MalformedObject, match=r"^Secret ns/s: data.k is not base64$"):
        with reading("Secret ns/s", "data.k is not base64"):
            base64.b64decode("S3CRET-KEY-TEXT", validate=True)


def test_a_bad_line_of_the_zone_records_names_the_configmap_and_the_line():
    assert zone_records.read_records(None) is None
    assert zone_records.read_records(records_configmap("240.0.0.1 a.b.global\n")) == {"a.b.global": "240.0.0.1"}
    with pytest.raises(MalformedObject) as caught:
        zone_records.read_records(records_configmap("240.0.0.1 a.b.global\nnot-an-ip a.b.global\n"))
    assert caught.value.obj == RECORDS and "line 2 of global.hosts" in caught.value.problem


def test_bad_base64_in_cacerts_is_malformed_naming_the_key_not_its_value():
    secret = {"data": {"ca-cert.pem": base64.b64encode(b"x").decode(), "ca-key.pem": "S3CRET-KEY-TEXT!"}}
    with pytest.raises(MalformedObject) as caught:
        cacerts.read_secret(secret, "istio-system", "cacerts")
    assert str(caught.value) == "Secret istio-system/cacerts: data.ca-key.pem is not base64"
    data, reasons = cacerts.inspect(secret, "istio-system", "cacerts", None, "cluster1", 30)
    assert data == {} and reasons == {"malformed": "data.ca-key.pem is not base64"}
    assert "S3CRET" not in repr(reasons)
    assert cacerts.inspect(None, "istio-system", "cacerts", None, None, 30)[1] == {
        "missing": "no Secret istio-system/cacerts"}


def helm_secret(payload, name="istiod"):
    return {"metadata": {"name": "sh.helm.release.v1.%s.v1" % name, "namespace": "istio-system",
                         "labels": {"owner": "helm", "name": name, "status": "deployed"}},
            "data": {"release": base64.b64encode(payload).decode()}}


@pytest.mark.parametrize("payload", [
    b"%%% not base64",                                                   # Helm's own base64 layer
    base64.b64encode(b"\x1f\x8b not gzip"),                             # gzip magic, bad stream
    base64.b64encode(gzip.compress(b"{not json")),                      # not JSON
    base64.b64encode(gzip.compress(b"[1, 2]")),                         # JSON, not a release
])
def test_a_malformed_helm_release_secret_names_the_secret(payload):
    with pytest.raises(MalformedObject) as caught:
        helm_release.deployed_releases([helm_secret(payload)])
    assert caught.value.obj == "Secret istio-system/sh.helm.release.v1.istiod.v1"
    # A malformed Secret of a release not asked for is not read.
    assert helm_release.deployed_releases([helm_secret(payload)], names=["istio-base"]) == {}


class FakeClient:
    """get() from a dict of (kind, name) -> object: what mesh_check reads of one cluster (its lists,
    of the revisions, are empty)."""

    def __init__(self, objects):
        self.objects = objects

    def get(self, kind, name, namespace=None):
        return self.objects.get((kind, name))

    def list(self, kind, namespace=None, label_selector=None):
        return []


def deployment(chart="istiod-1.29.0", version="1.29.0"):
    return {"metadata": {"labels": {"helm.sh/chart": chart, "app.kubernetes.io/instance": "istiod",
                                    "app.kubernetes.io/version": version}},
            "spec": {"replicas": 1},
            "status": {"availableReplicas": 1, "updatedReplicas": 1,
                       "conditions": [{"type": "Available", "status": "True"}]}}


PARAMS = {"namespace": "istio-system", "deployments": ["istiod"], "gateway_service": "istio-eastwestgateway",
          "address_override": "127.0.0.1", "expected_records": {}, "dns_server": "", "dns_port": 53, "dns_wait": 0}


def test_mesh_check_reports_each_malformed_object_with_its_check_and_reads_the_rest():
    client = FakeClient({
        ("Deployment", "istiod"): deployment(),
        ("ConfigMap", "values"): {"data": {"original-values": '{"global": {"meshID": "m1", "apiKeys": ["k1"]}}'}},
        ("ConfigMap", ZONE_RECORDS): records_configmap("240.0.0.1 a.b.global extra..dots\n"),
        ("ConfigMap", "istio-ca-root-cert"): {"data": {"root-cert.pem": "-----BEGIN CERTIFICATE-----\nnope\n"}},
    })
    read = cluster_reader.read_cluster(client, PARAMS)
    assert [(f["check"], f["object"]) for f in read["malformed"]] == [
        ("dns", RECORDS), ("root", "ConfigMap istio-system/istio-ca-root-cert")]
    assert read["dns"]["status"] == "skip" and read["istiod_roots"] is None  # no records expected
    # What could be read still is, redacted.
    assert read["releases"]["istiod"]["values"] == {"global": {"meshID": "m1", "apiKeys": "<redacted>"}}
    client.objects[("ConfigMap", "values")] = {"data": {"original-values": "[1, 2"}}
    finding = cluster_reader.read_cluster(client, PARAMS)["malformed"][0]
    assert finding["check"] == "control_plane" and finding["object"] == "ConfigMap istio-system/values"


def healthy(name):
    return {"name": name, "network": "n", "reachable": True,
            "trust": {"exists": True, "valid": True, "root_fingerprint": "ab", "intermediate": {"days_left": 300}},
            "check": {"releases": {"istio-base": {"version": "1.29.0"}, "istiod": {"version": "1.29.0", "values": {}},
                                   "istio-eastwestgateway": {"version": "1.29.0"}},
                      "gateway": {"address": "127.0.0.1", "port": 15443, "source": "override"},
                      "dns": {"status": "pass", "detail": "0 names in the zone server's records"},
                      "not_ready": {}, "malformed": []},
            "service_entries": None}


FLEET = {"root_fingerprint": "ab", "chart_version": "1.29.0",
         "releases": ["istio-base", "istiod", "istio-eastwestgateway"]}


def test_a_malformed_object_fails_its_cluster_naming_it_and_the_other_cluster_passes():
    bad = healthy("cluster1")
    bad["check"]["malformed"] = [{"check": "dns", "object": RECORDS, "problem": "line 2 of global.hosts: 'x'"},
                                 {"check": "control_plane", "object": "ConfigMap istio-system/values",
                                  "problem": "Expecting value: line 1 column 1 (char 0)"}]
    bad["check"]["releases"]["istiod"]["values"] = {}        # what mesh_check reads without them
    bad["trust"] = {"exists": True, "valid": False, "reasons": ["malformed"],
                    "reason": "malformed: data.ca-cert.pem is not base64"}
    others = [healthy("cluster2")]
    for other in others:
        other["check"]["releases"]["istiod"]["values"] = {"global": {"hub": "docker.io/istio"}}
    model = evaluate([bad] + others, FLEET)
    one, two = (c["results"] for c in model["clusters"])
    assert one["dns"] == {"status": "fail", "detail": "malformed: line 2 of global.hosts: 'x'", "object": RECORDS,
                          "fix": "run playbooks/services.yml (it rewrites the records), or repair the line"}
    for check in ("root", "intermediate"):
        assert one[check]["status"] == "fail" and one[check]["object"] == "Secret istio-system/cacerts"
        assert one[check]["detail"] == "malformed: data.ca-cert.pem is not base64"
    assert one["control_plane"]["object"] == "ConfigMap istio-system/values"
    # The others are judged among themselves: unreadable values are not a different control plane.
    assert {r["status"] for r in two.values()} <= {"pass", "skip"}
    assert not model["ok"] and "FAIL cluster1 / .global DNS: malformed" in render_text(model)
    render_html(model)


def test_a_check_that_cannot_judge_what_it_was_given_fails_alone():
    def broken():
        return {}["version"]
    results = judge({"a": (broken, ()), "b": (lambda: result("pass", "fine"), ())}, [])
    assert results["a"]["status"] == "fail" and "KeyError" in results["a"]["detail"]
    assert results["b"] == {"status": "pass", "detail": "fine"}
    odd = healthy("cluster1")
    odd["check"]["releases"]["istiod"] = {"values": {}}          # no version at all
    model = evaluate([odd, healthy("cluster2"), healthy("cluster3")], FLEET)
    assert [c["results"]["control_plane"]["status"] for c in model["clusters"]] == ["fail", "pass", "pass"]


def test_ca_intermediate_re_issues_a_cacerts_secret_it_cannot_read_without_quoting_it():
    from ansible_collections.meshops.multicluster.plugins.module_utils._trust import pki
    root = pki.generate_root("ec")
    secret = {"metadata": {"name": "cacerts", "namespace": "istio-system",
                           "labels": {"app.kubernetes.io/managed-by": "meshops.multicluster"}},
              "data": {"ca-key.pem": "S3CRET-KEY-TEXT!"}}
    params = {"namespace": "istio-system", "name": "cacerts", "cluster_name": "cluster1", "renew_before_days": 30,
              "force": False, "key_type": "ec", "validity_days": 365}
    api = FakeApi()
    result, before, after = cacerts.present(params, fake_client(api, check_mode=True), secret, root)
    assert result["changed"] and result["action"] == "issued" and result["reasons"] == ["malformed"]
    assert result["reason"] == "malformed: data.ca-key.pem is not base64" and before == {"malformed": True}
    assert "S3CRET" not in repr((result, before, after))
    result, before, _after = cacerts.absent(params, fake_client(api, check_mode=True), secret, None)
    assert result["changed"] and before == {"malformed": True} and api.writes() == []
