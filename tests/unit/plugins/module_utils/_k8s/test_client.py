"""KubeClient at its transport seam (a FakeApi instead of the connection pool): check mode records
every write and sends none, reads are sent as in a real run, and a 403 is a Forbidden carrying the
request. A writer run in check mode sends no write and reports what a real run does."""

from __future__ import annotations

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import (
    Forbidden, KubeError, Request, resource_path)
from ansible_collections.meshops.multicluster.plugins.module_utils._services.vips import COMPONENT, COMPONENT_LABEL
from ansible_collections.meshops.multicluster.plugins.module_utils._services.writer import Writer
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import VIP_STORE, ZONE_RECORDS, managed_labels
from tests.unit.fake_api import FakeApi, fake_client

OURS = managed_labels({COMPONENT_LABEL: COMPONENT})


def configmap(name, namespace="istio-system", labels=None, data=None):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace,
                                                                  "labels": labels or {}, "resourceVersion": "7"},
            "data": data or {}}


def stored(*objects):
    """{path: object} of objects as FakeApi holds them."""
    return {resource_path(obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]): obj for obj in objects}


def write_every_way(client):
    """One write of each kind; what each answered."""
    return [client.apply(configmap("a", data={"k": "v"})), client.create(configmap("b")),
            client.replace(configmap("c")), client.merge_patch("ConfigMap", "d", "istio-system", {"data": {"k": None}}),
            client.delete("ConfigMap", "e", "istio-system")]


def test_check_mode_records_every_write_and_sends_none():
    api = FakeApi(stored(configmap("c"), configmap("d"), configmap("e")))
    client = fake_client(api, check_mode=True)
    answers = write_every_way(client)
    assert api.sent == [] and client.requests == {"read": 0, "write": 0}
    assert [(w.request.method, w.request.kind, w.request.name) for w in client.recorded] == [
        ("PATCH", "ConfigMap", "a"), ("POST", "ConfigMap", None), ("PUT", "ConfigMap", "c"), ("PATCH", "ConfigMap", "d"),
        ("DELETE", "ConfigMap", "e")]
    assert client.recorded[0].body == configmap("a", data={"k": "v"})
    # apply, create and replace answer the object they would have sent; a merge patch and a delete nothing
    assert answers == [configmap("a", data={"k": "v"}), configmap("b"), configmap("c"), None, None]
    assert api.objects == stored(configmap("c"), configmap("d"), configmap("e"))


def test_without_check_mode_the_same_writes_are_sent_and_counted():
    api = FakeApi(stored(configmap("c"), configmap("d"), configmap("e")))
    client = fake_client(api)
    write_every_way(client)
    assert [method for method, _path in api.writes()] == ["PATCH", "POST", "PUT", "PATCH", "DELETE"]
    assert client.requests == {"read": 0, "write": 5} and client.recorded == []


def test_check_mode_sends_reads_and_access_reviews():
    api = FakeApi(stored(configmap("x")))
    client = fake_client(api, check_mode=True)
    assert client.get("ConfigMap", "x", "istio-system")["metadata"]["name"] == "x"
    assert client.get("ConfigMap", "missing", "istio-system") is None
    client.review_rules("istio-system")  # a POST that changes nothing: asked, not recorded
    assert api.sent[-1] == ("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews")
    assert client.requests == {"read": 3, "write": 0} and client.recorded == []


def test_a_403_is_a_forbidden_carrying_the_request():
    path = "/api/v1/namespaces/istio-system/secrets/cacerts"
    client = fake_client(FakeApi(forbidden=[("GET", path)]))
    with pytest.raises(Forbidden) as refused:
        client.get("Secret", "cacerts", "istio-system")
    assert refused.value.request == Request("GET", path, "Secret", "istio-system", "cacerts")
    assert refused.value.status == 403 and isinstance(refused.value, KubeError)
    assert str(refused.value) == "GET %s: 403 %s is forbidden" % (path, path)


def test_a_cluster_wide_kind_is_requested_without_a_namespace():
    client = fake_client(FakeApi(forbidden=[("DELETE", "/api/v1/namespaces/bar")]))
    with pytest.raises(Forbidden) as refused:
        client.delete("Namespace", "bar", "ignored")
    assert refused.value.request == Request("DELETE", "/api/v1/namespaces/bar", "Namespace", None, "bar")


def fleet_of_ours():
    entry = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
             "metadata": {"name": "pay.fx.global", "namespace": "fx", "labels": OURS}, "spec": {"hosts": ["pay.fx.global"]}}
    rule = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": "pay.fx.global", "namespace": "fx", "labels": OURS}, "spec": {"host": "pay.fx.global"}}
    theirs = dict(entry, metadata={"name": "theirs", "namespace": "fx", "labels": {}})
    return stored(entry, rule, theirs, configmap(VIP_STORE, labels=managed_labels()),
                  configmap(ZONE_RECORDS, labels=managed_labels()))


def test_a_writer_in_check_mode_sends_no_write_and_reports_what_a_real_run_does():
    api, real_api = FakeApi(fleet_of_ours()), FakeApi(fleet_of_ours())
    client, real = fake_client(api, check_mode=True), fake_client(real_api)
    result = Writer(client, diff=True).absent()
    assert api.writes() == [] and client.requests["write"] == 0 and api.objects == fleet_of_ours()
    assert result == Writer(real, diff=True).absent() and result["changed"]
    assert sorted(w.request.path for w in client.recorded) == sorted(path for _method, path in real_api.writes())
    assert len(client.recorded) == 4 and "theirs" in str(real_api.objects)


class UrlRecordingApi(FakeApi):
    """A FakeApi that also keeps each request's URL (its query: dryRun)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.urls = []

    def request(self, method, url, **kwargs):
        self.urls.append(url)
        return super().request(method, url, **kwargs)


def test_a_dry_run_create_is_sent_in_check_mode_and_counted_as_a_read():
    api = UrlRecordingApi()
    client = fake_client(api, check_mode=True)
    answer = client.create(configmap("probe"), dry_run=True)
    assert api.sent == [("POST", "/api/v1/namespaces/istio-system/configmaps")]
    assert "dryRun=All" in api.urls[0] and answer["metadata"]["name"] == "probe"
    assert client.recorded == [] and client.requests == {"read": 1, "write": 0}
    client.create(configmap("real"))  # without dry_run a create is still only recorded
    assert len(api.sent) == 1 and "dryRun" not in str(client.recorded[0])
