"""What mesh_check reads of one cluster (cluster_reader), against a small fake client: releases from
the labels their charts stamp, istiod's values redacted, readiness, the gateway, the zone records,
the DNS answers and istiod's roots; a malformed object is a finding of its check, the rest still read."""

from __future__ import annotations

import json

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.redaction import REDACTED
from ansible_collections.meshops.multicluster.plugins.module_utils._dns import zone_records
from ansible_collections.meshops.multicluster.plugins.module_utils._dns.query import DnsError
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KubeError
from ansible_collections.meshops.multicluster.plugins.module_utils._trust import pki
from ansible_collections.meshops.multicluster.plugins.module_utils._verify import cluster_reader
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import ZONE_RECORDS

NS = "istio-system"
PARAMS = {"namespace": NS, "deployments": ["istiod", "istio-eastwestgateway"], "gateway_service": "istio-eastwestgateway",
          "address_override": "", "expected_records": {}, "dns_server": "", "dns_port": 53, "dns_wait": 0}
# The services plan as the verify role hands it on (text): cluster1 holds the fleet's one record.
PLAN_PARAMS = dict(PARAMS, plan=json.dumps({"allocations": {"httpbin.bar.global": "240.0.10.1"}, "gateways": {"cluster1": {}}}),
                   cluster_name="cluster1", dns_delegated=True)


class FakeClient:
    """get() from a dict of (kind, name) -> object, in one namespace, list() from a dict of kind ->
    objects (label selectors applied as key=value); the reads asked for."""

    def __init__(self, objects, nodes=(), failing=None, listed=None):
        self.objects, self.failing, self.reads = objects, failing, []
        self.listed = dict(listed or {}, Node=list(nodes))

    def get(self, kind, name, namespace=None):
        self.reads.append((kind, name, namespace))
        if (kind, name) == self.failing:
            raise KubeError("GET %s %s: 403 forbidden" % (kind, name), status=403)
        return self.objects.get((kind, name))

    def list(self, kind, namespace=None, label_selector=None):
        key, _equals, value = (label_selector or "").partition("=")
        return [obj for obj in self.listed.get(kind, [])
                if not key or (obj.get("metadata") or {}).get("labels", {}).get(key) == value]


def stamped(release, chart, version, ready=True):
    """An object of a Helm chart as the chart labels it (a Deployment when ready is not None)."""
    obj = {"metadata": {"labels": {"helm.sh/chart": "%s-%s" % (chart, version), "app.kubernetes.io/version": version},
                        "annotations": {"meta.helm.sh/release-name": release}},
           "spec": {"replicas": 1}}
    available = "True" if ready else "False"
    obj["status"] = {"availableReplicas": int(ready), "updatedReplicas": 1,
                     "conditions": [{"type": "Available", "status": available}]}
    return obj


def gateway_service(**status):
    return {"spec": {"type": "LoadBalancer", "ports": [{"port": 15443, "nodePort": 31443}]},
            "status": {"loadBalancer": status}}


def values_configmap(values):
    return {"data": {"original-values": values if isinstance(values, str) else json.dumps(values)}}


def records(text):
    return {"data": {zone_records.RECORDS_KEY: text}}


ROOT = pki.generate_root("ec")


def healthy_cluster():
    return {
        ("ServiceAccount", cluster_reader.BASE_CHART_SERVICE_ACCOUNT): stamped("istio-base", "base", "1.29.0"),
        ("Deployment", "istiod"): stamped("istiod", "istiod", "1.29.0"),
        ("Deployment", "istio-eastwestgateway"): stamped("istio-eastwestgateway", "gateway", "1.29.0"),
        ("ConfigMap", "values"): values_configmap({"global": {"meshID": "mesh1", "hub": "docker.io/istio"}}),
        ("Service", "istio-eastwestgateway"): gateway_service(ingress=[{"ip": "127.141.1.1"}]),
        ("ConfigMap", ZONE_RECORDS): records("240.0.10.1 httpbin.bar.global\n"),
        ("ConfigMap", "istio-ca-root-cert"): {"data": {"root-cert.pem": pki.certs_pem([ROOT.cert])}},
    }


def test_a_healthy_cluster_is_read_whole_and_nothing_is_malformed():
    client = FakeClient(healthy_cluster())
    read = cluster_reader.read_cluster(client, PLAN_PARAMS)
    assert read["releases"] == {
        "istio-base": {"chart": "base", "version": "1.29.0", "app_version": "1.29.0", "values": {}},
        "istiod": {"chart": "istiod", "version": "1.29.0", "app_version": "1.29.0",
                   "values": {"global": {"meshID": "mesh1", "hub": "docker.io/istio"}}},
        "istio-eastwestgateway": {"chart": "gateway", "version": "1.29.0", "app_version": "1.29.0", "values": {}}}
    assert read["not_ready"] == {} and read["malformed"] == []
    assert read["gateway"] == {"address": "127.141.1.1", "port": 15443, "source": "load balancer IP"}
    # the plan's record is in the zone server; no dns_server: no query
    assert read["dns"] == {"status": "pass", "detail": "1 names in the zone server's records"}
    assert read["istiod_roots"] == [pki.fingerprint(ROOT.cert)]
    assert all(kind != "Secret" for kind, _name, _namespace in client.reads)  # reads no Secret (no Helm release)
    assert {namespace for _kind, _name, namespace in client.reads} == {NS}


def test_istiods_values_are_shown_redacted_at_any_depth():
    objects = healthy_cluster()
    objects[("ConfigMap", "values")] = values_configmap({
        "global": {"meshID": "mesh1", "imagePullSecrets": ["regcred"], "proxy": {"privateKey": "-----BEGIN"}},
        "pilot": {"env": [{"name": "DB_PASSWORD", "value": "hunter2"}, {"name": "LOG_LEVEL", "value": "debug"}]},
        "apiToken": {"nested": "tok"}})
    values = cluster_reader.read_cluster(FakeClient(objects), PARAMS)["releases"]["istiod"]["values"]
    assert values == {
        "global": {"meshID": "mesh1", "imagePullSecrets": REDACTED, "proxy": {"privateKey": REDACTED}},
        "pilot": {"env": [{"name": "DB_PASSWORD", "value": REDACTED}, {"name": "LOG_LEVEL", "value": "debug"}]},
        "apiToken": REDACTED}
    assert "hunter2" not in json.dumps(values) and "tok" not in json.dumps(values)


def test_a_fresh_cluster_has_no_releases_and_says_why_its_deployments_are_not_ready():
    read = cluster_reader.read_cluster(FakeClient({}), PARAMS)
    assert read == {"releases": {}, "not_ready": {"istiod": "does not exist", "istio-eastwestgateway": "does not exist"},
                    "gateway": None, "dns": {"status": "skip", "detail": "DNS served by the sidecar proxy"},
                    "istiod_roots": None, "malformed": [],
                    "revisions": {"revisions": {}, "tags": {}, "default_revision": None, "namespaces": {}, "pods": {},
                                  "gateway": {"name": "istio-eastwestgateway", "revision": None, "ready": False},
                                  "gateway_canaries": [],
                                  "dangling_webhooks": []},
                    "warnings": []}


def named(kind, name, namespace=None, labels=None, **rest):
    meta = {"name": name, "labels": labels or {}}
    if namespace:
        meta["namespace"] = namespace
    return dict({"kind": kind, "metadata": meta}, **rest)


def test_the_revisions_are_read_once_with_what_uses_each_and_the_webhooks_whose_service_is_gone():
    istiod = stamped("istiod-1-31-0", "istiod", "1.31.0")
    istiod["metadata"].update(name="istiod-1-31-0", namespace=NS, labels=dict(
        istiod["metadata"]["labels"], app="istiod", **{"istio.io/rev": "1-31-0"}))
    old = stamped("istiod-1-30-0", "istiod", "1.30.0")
    old["metadata"].update(name="istiod-1-30-0", namespace=NS, labels=dict(
        old["metadata"]["labels"], app="istiod", **{"istio.io/rev": "1-30-0"}))
    status = '{"revision": "%s", "containers": ["istio-proxy"]}'
    listed = {
        "Deployment": [istiod, old],
        "Service": [named("Service", "istiod-1-31-0", NS), named("Service", "istiod-1-30-0", NS)],
        "MutatingWebhookConfiguration": [named("MutatingWebhookConfiguration", "istio-revision-tag-default",
                                               labels={"istio.io/tag": "default", "istio.io/rev": "1-31-0"})],
        "ValidatingWebhookConfiguration": [named("ValidatingWebhookConfiguration", "istio-validator-1-29-0-istio-system",
                                                 webhooks=[{"name": "rev.validation.istio.io", "clientConfig": {
                                                     "service": {"namespace": NS, "name": "istiod-1-29-0"}}}])],
        "Namespace": [named("Namespace", "bar", labels={"istio-injection": "enabled"}),
                      named("Namespace", "shop", labels={"istio.io/rev": "1-30-0"}),
                      named("Namespace", "broken", labels={"istio.io/rev": "not a label!"})],
        "Pod": [{"metadata": {"name": "p%d" % i, "namespace": "shop",
                              "annotations": {"sidecar.istio.io/status": status % "1-30-0"}}} for i in range(2)],
    }
    found = cluster_reader.read_cluster(FakeClient(healthy_cluster(), listed=listed), PARAMS)
    read = found["revisions"]
    assert set(read["revisions"]) == {"1-31-0", "1-30-0"} and read["default_revision"] == "1-31-0"
    # the gateway's pods carry no revision label: the default tag's revision injects them
    assert read["revisions"]["1-31-0"]["in_use_by"] == ["tag default", "namespace bar (tag default)",
                                                        "gateway istio-eastwestgateway"]
    assert read["revisions"]["1-30-0"]["in_use_by"] == ["namespace shop", "2 pods"]
    assert read["dangling_webhooks"] == [{"kind": "ValidatingWebhookConfiguration",
                                          "name": "istio-validator-1-29-0-istio-system",
                                          "webhook": "rev.validation.istio.io", "service": NS + "/istiod-1-29-0"}]
    assert len(found["warnings"]) == 1 and "Namespace broken" in found["warnings"][0]  # a tenant's bad label: warned


def test_a_deployment_not_available_is_named_and_its_release_still_read():
    objects = healthy_cluster()
    objects[("Deployment", "istiod")] = stamped("istiod", "istiod", "1.29.0", ready=False)
    read = cluster_reader.read_cluster(FakeClient(objects), PARAMS)
    assert read["not_ready"] == {"istiod": "0 of 1 replicas available"} and "istiod" in read["releases"]


def test_the_address_override_wins_and_a_node_port_gateway_is_found_on_a_node():
    objects = healthy_cluster()
    read = cluster_reader.read_cluster(FakeClient(objects), dict(PARAMS, address_override="gw.example.org"))
    assert read["gateway"] == {"address": "gw.example.org", "port": 15443, "source": "mesh_gateway_address_override"}
    objects[("Service", "istio-eastwestgateway")] = gateway_service()
    nodes = [{"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"},
                                       {"type": "ExternalIP", "address": "127.141.2.1"}]}}]
    read = cluster_reader.read_cluster(FakeClient(objects, nodes), PARAMS)
    assert read["gateway"] == {"address": "127.141.2.1", "port": 31443, "source": "node ExternalIP and NodePort"}
    assert cluster_reader.read_cluster(FakeClient(objects), PARAMS)["gateway"] is None  # no address yet


@pytest.mark.parametrize("text, problem", [
    ("[1, 2]", "original-values is not a JSON object"),
    ("{not json", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ('"a string"', "original-values is not a JSON object"),
])
def test_istiods_values_that_are_not_a_json_object_are_a_control_plane_finding(text, problem):
    objects = healthy_cluster()
    objects[("ConfigMap", "values")] = values_configmap(text)
    read = cluster_reader.read_cluster(FakeClient(objects), PLAN_PARAMS)
    assert read["malformed"] == [{"check": "control_plane", "object": "ConfigMap %s/values" % NS, "problem": problem}]
    # The release is still read, without values; everything else as usual.
    assert read["releases"]["istiod"]["values"] == {} and read["dns"]["status"] == "pass" and read["istiod_roots"]


def test_each_malformed_object_is_a_finding_of_its_check_and_the_rest_is_read():
    objects = healthy_cluster()
    objects[("ConfigMap", ZONE_RECORDS)] = records("240.0.10.1 a.b.global\nnot-an-ip c.d.global\n")
    objects[("ConfigMap", "istio-ca-root-cert")] = {"data": {"root-cert.pem": "-----BEGIN CERTIFICATE-----\nnope\n"}}
    read = cluster_reader.read_cluster(FakeClient(objects), PLAN_PARAMS)
    assert [(f["check"], f["object"]) for f in read["malformed"]] == [
        ("dns", "ConfigMap %s/%s" % (NS, ZONE_RECORDS)), ("root", "ConfigMap %s/istio-ca-root-cert" % NS)]
    assert all(f["problem"] for f in read["malformed"])
    assert read["dns"]["detail"] == "the zone server has no records" and read["istiod_roots"] is None
    assert read["gateway"]["address"] == "127.141.1.1" and "istio-base" in read["releases"]


def test_objects_of_other_shapes_read_as_absent_not_as_a_traceback():
    objects = healthy_cluster()
    objects[("ConfigMap", "values")] = {"data": None}
    objects[("ConfigMap", "istio-ca-root-cert")] = {"metadata": {}}
    objects[("ServiceAccount", cluster_reader.BASE_CHART_SERVICE_ACCOUNT)] = {"metadata": {"labels": None}}
    read = cluster_reader.read_cluster(FakeClient(objects), PARAMS)
    assert read["malformed"] == [] and read["istiod_roots"] is None
    assert "istio-base" not in read["releases"] and read["releases"]["istiod"]["values"] == {}


def test_an_error_of_the_api_is_a_mesh_error_for_the_module():
    client = FakeClient(healthy_cluster(), failing=("ConfigMap", ZONE_RECORDS))
    with pytest.raises(MeshError, match="403 forbidden"):
        cluster_reader.read_cluster(client, PARAMS)


def test_the_cluster_dns_is_asked_for_every_expected_host_and_errors_are_answers(monkeypatch):
    asked = []

    def query_a(server, host, port=53):
        asked.append((server, host, port))
        if host == "gone.bar.global":
            raise DnsError("NXDOMAIN from %s:%d for %s" % (server, port, host))
        return ["240.0.10.1"]

    monkeypatch.setattr(cluster_reader, "query_a", query_a)
    expected = {"httpbin.bar.global": "240.0.10.1", "gone.bar.global": "240.0.10.2"}
    params = dict(PARAMS, dns_server="10.96.0.10", dns_port=5353, expected_records=expected, dns_delegated=True)
    assert cluster_reader.dns_answers(params, expected, expected) == {
        "httpbin.bar.global": ["240.0.10.1"], "gone.bar.global": "NXDOMAIN from 10.96.0.10:5353 for gone.bar.global"}
    assert asked == [("10.96.0.10", "gone.bar.global", 5353), ("10.96.0.10", "httpbin.bar.global", 5353)]
    # mesh_check judges the answers where it reads them (the zone server holds gone.bar.global as well)
    objects = healthy_cluster()
    objects[("ConfigMap", ZONE_RECORDS)] = records("240.0.10.1 httpbin.bar.global\n240.0.10.2 gone.bar.global\n")
    dns = cluster_reader.read_cluster(FakeClient(objects), params)["dns"]
    assert dns["status"] == "fail" and dns["detail"] == (
        "1 of 2 names answered wrong: gone.bar.global -> NXDOMAIN from 10.96.0.10:5353 for gone.bar.global")


def test_a_name_the_zone_server_holds_right_is_asked_again_until_the_dns_answers_it(monkeypatch):
    answers = {"httpbin.bar.global": [[], [], ["240.0.10.1"]], "stale.bar.global": [[], [], []]}
    monkeypatch.setattr(cluster_reader, "query_a", lambda server, host, port=53: answers[host].pop(0))
    monkeypatch.setattr(cluster_reader, "DNS_POLL_SECONDS", 0)
    params = dict(PARAMS, dns_server="10.96.0.10", dns_wait=60,
                  expected_records={"httpbin.bar.global": "240.0.10.1", "stale.bar.global": "240.0.10.9"})
    # The zone server holds httpbin right (the cluster DNS is still propagating), stale.bar wrong (no use waiting).
    read = cluster_reader.dns_answers(params, params["expected_records"],
                                      {"httpbin.bar.global": "240.0.10.1", "stale.bar.global": "240.0.10.8"})
    assert read == {"httpbin.bar.global": ["240.0.10.1"], "stale.bar.global": []}
    assert answers == {"httpbin.bar.global": [], "stale.bar.global": [[], []]}  # asked three times, and once
