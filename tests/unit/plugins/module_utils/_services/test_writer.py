"""The services step in one cluster (writer.Writer) against a small fake cluster: someone else's
objects that clash with ours, the conditional write of the VIP store, a namespace awaited while it
is deleted, and pruning only what this step made."""

from __future__ import annotations

import copy
import functools

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s import waiter
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KubeError
from ansible_collections.meshops.multicluster.plugins.module_utils._services import writer
from ansible_collections.meshops.multicluster.plugins.module_utils._services.plan import plan_fleet
from ansible_collections.meshops.multicluster.plugins.module_utils._services.render import (
    EXPORTED_FROM_ANNOTATION, namespace_object)
from ansible_collections.meshops.multicluster.plugins.module_utils._services.vips import COMPONENT, COMPONENT_LABEL, store_configmap, store_from_configmap
from ansible_collections.meshops.multicluster.plugins.module_utils._services.writer import CONCURRENT_RUN, ServicesError, Writer
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import VIP_STORE, managed_labels

OURS = managed_labels({COMPONENT_LABEL: COMPONENT})
WRITES = ("apply", "create", "replace", "delete")


def key(kind, namespace, name):
    return kind, namespace or "", name


class FakeCluster:
    """One cluster's objects by (kind, namespace, name), answering as KubeClient does; every call is
    recorded in `calls` as (verb, kind, namespace, name). `conflict` makes a conditional replace
    answer 409, as the API server does when the object changed since the version given;
    `deleting` names namespaces that `get` still finds that many times before they are gone."""

    check_mode = False  # as KubeClient outside check mode (tests/unit/fake_api.py covers check mode)

    def __init__(self, objects=(), conflict=False, deleting=None):
        self.objects, self.calls, self.conflict = {}, [], conflict
        self.deleting = dict(deleting or {})
        for obj in ({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}},) + tuple(objects):
            self._store(obj)

    def _store(self, obj):
        meta = obj["metadata"]
        self.objects[key(obj["kind"], meta.get("namespace"), meta["name"])] = copy.deepcopy(obj)

    def _record(self, verb, kind, namespace, name):
        self.calls.append((verb, kind, namespace or "", name))

    def writes(self):
        return [call for call in self.calls if call[0] in WRITES]

    def list(self, kind, namespace=None, label_selector=None):
        wanted = dict(pair.split("=", 1) for pair in label_selector.split(",")) if label_selector else {}
        return [copy.deepcopy(obj) for (k, _ns, _name), obj in sorted(self.objects.items())
                if k == kind and wanted.items() <= ((obj["metadata"].get("labels") or {}).items())]

    def get(self, kind, name, namespace=None):
        self._record("get", kind, namespace, name)
        if kind == "Namespace" and self.deleting.get(name):
            self.deleting[name] -= 1
            if not self.deleting[name]:
                del self.objects[key(kind, None, name)]
        obj = self.objects.get(key(kind, namespace, name))
        return copy.deepcopy(obj) if obj else None

    def apply(self, obj):
        self._record("apply", obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])
        self._store(obj)
        return obj

    def create(self, obj):
        self._record("create", obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])
        self._store(obj)
        return obj

    def replace(self, obj):
        meta = obj["metadata"]
        self._record("replace", obj["kind"], meta.get("namespace"), meta["name"])
        if self.conflict:
            raise KubeError("PUT %s: 409 Operation cannot be fulfilled: the object has been modified" % meta["name"],
                            status=409)
        self._store(obj)
        return obj

    def delete(self, kind, name, namespace=None):
        self._record("delete", kind, namespace, name)
        self.objects.pop(key(kind, namespace, name), None)


def export(name, namespace="bar"):
    return {"name": name, "namespace": namespace, "ports": [{"name": "http", "number": 8000, "protocol": "HTTP"}]}


def fleet_plan(*names, c2_store=None):
    """c1 exports `names` (namespace bar); c2, where the writer runs, exports nothing."""
    return plan_fleet([{"name": "c1", "exports": [export(name) for name in names], "gateway_address": "10.0.0.1",
                        "vip_store": store_from_configmap(None)},
                       {"name": "c2", "gateway_address": "10.0.0.2", "vip_store": store_from_configmap(c2_store)}])


def present(cluster, the_plan, **kwargs):
    warnings = []
    result = Writer(cluster, warn=warnings.append, **kwargs).present(the_plan, "c2")
    return result, warnings


def theirs(kind, name, spec, namespace="bar"):
    return {"apiVersion": "networking.istio.io/v1", "kind": kind, "spec": spec,
            "metadata": {"name": name, "namespace": namespace, "labels": {"team": "bar"}}}


def test_a_first_run_creates_the_store_the_namespace_and_both_objects_of_each_host():
    cluster = FakeCluster()
    result, warnings = present(cluster, fleet_plan("httpbin"))
    assert result["changed"] and result["vip_store_changed"] and warnings == []
    assert result["namespaces"]["created"] == ["bar"]
    assert ("create", "ConfigMap", "istio-system", VIP_STORE) in cluster.writes()
    assert {("apply", kind, "bar", "httpbin.bar.global") for kind in ("ServiceEntry", "DestinationRule")} \
        <= set(cluster.writes())
    cluster.calls.clear()
    again, _warnings = present(cluster, fleet_plan("httpbin", c2_store=cluster.get("ConfigMap", VIP_STORE, "istio-system")))
    assert not again["changed"] and cluster.writes() == []


@pytest.mark.parametrize("clash", [
    theirs("ServiceEntry", "their-httpbin", {"hosts": ["httpbin.bar.global"]}),
    theirs("DestinationRule", "httpbin.bar.global", {"host": "httpbin.bar.global"}),
], ids=["their ServiceEntry with our host", "their DestinationRule with our name"])
def test_someone_elses_object_that_clashes_skips_that_host_and_stays_untouched(clash):
    cluster = FakeCluster([namespace_object("bar"), clash])
    before = copy.deepcopy(clash)
    result, warnings = present(cluster, fleet_plan("httpbin", "web"))
    assert list(result["skipped"]) == ["httpbin.bar.global"]
    assert any("is not managed by meshops.multicluster" in warning and "httpbin.bar.global" in warning
               for warning in warnings)
    written = {(kind, name) for _verb, kind, _ns, name in cluster.writes()}
    assert not any(name in ("httpbin.bar.global", clash["metadata"]["name"]) for _kind, name in written)
    assert {("ServiceEntry", "web.bar.global"), ("DestinationRule", "web.bar.global")} <= written  # the rest converges
    assert cluster.objects[key(clash["kind"], "bar", clash["metadata"]["name"])] == before


def stale_store(version):
    """The store as another run left it: generation 1, no host, at resourceVersion `version`."""
    configmap = store_configmap({"allocations": {}, "generation": 1})
    configmap["metadata"]["resourceVersion"] = version
    return configmap


def test_the_store_is_replaced_on_the_version_the_plan_read():
    cluster = FakeCluster([stale_store("7")])
    result, _warnings = present(cluster, fleet_plan("httpbin", c2_store=stale_store("7")))
    assert result["vip_store_changed"] and ("replace", "ConfigMap", "istio-system", VIP_STORE) in cluster.writes()
    stored = cluster.objects[key("ConfigMap", "istio-system", VIP_STORE)]
    assert stored["metadata"]["resourceVersion"] == "7" and "httpbin.bar.global" in stored["data"]


def test_a_store_changed_since_the_plan_read_it_is_refused_before_any_write():
    cluster = FakeCluster([stale_store("8")])  # another run wrote it after this run's plan read version 7
    with pytest.raises(ServicesError, match="another run changed the VIP allocation") as caught:
        present(cluster, fleet_plan("httpbin", c2_store=stale_store("7")))
    assert "nothing was written" in str(caught.value) and cluster.writes() == []


def test_a_store_answered_409_fails_the_run_before_anything_else_is_written():
    # the version matched when read, but another run wrote between the read and the conditional write
    cluster = FakeCluster([stale_store("7")], conflict=True)
    with pytest.raises(ServicesError) as caught:
        present(cluster, fleet_plan("httpbin", c2_store=stale_store("7")))
    assert str(caught.value) == CONCURRENT_RUN % ("istio-system", VIP_STORE)
    assert cluster.writes() == [("replace", "ConfigMap", "istio-system", VIP_STORE)]


def terminating(name):
    return dict(namespace_object(name), status={"phase": "Terminating"})


def test_a_namespace_being_deleted_is_awaited_then_created_anew(monkeypatch):
    monkeypatch.setattr(writer, "wait", functools.partial(waiter.wait, sleep=lambda seconds: None))
    cluster = FakeCluster([terminating("bar")], deleting={"bar": 2})
    result, warnings = present(cluster, fleet_plan("httpbin"))
    assert result["namespaces"]["awaited"] == ["bar"] and result["namespaces"]["created"] == ["bar"]
    gets = [index for index, call in enumerate(cluster.calls) if call == ("get", "Namespace", "", "bar")]
    created = cluster.calls.index(("apply", "Namespace", "", "bar"))
    assert len(gets) == 2 and gets[-1] < created < cluster.calls.index(("apply", "ServiceEntry", "bar", "httpbin.bar.global"))
    assert any("finish their deletion" in warning for warning in warnings)


def test_a_namespace_still_being_deleted_after_the_timeout_fails_with_nothing_written():
    cluster = FakeCluster([terminating("bar")], deleting={"bar": 99})
    with pytest.raises(ServicesError, match="bar still being deleted after 0s: nothing was written"):
        present(cluster, fleet_plan("httpbin"), namespace_timeout=0)
    assert cluster.writes() == []


def ours(kind, name, namespace="bar", labels=None):
    return {"apiVersion": "networking.istio.io/v1", "kind": kind, "spec": {},
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or OURS),
                         "annotations": {EXPORTED_FROM_ANNOTATION: "c1"}}}


def test_only_this_steps_own_objects_are_pruned():
    another_component = dict(managed_labels(), **{COMPONENT_LABEL: "global-routing"})
    cluster = FakeCluster([namespace_object("bar"),
                           ours("ServiceEntry", "gone.bar.global"), ours("DestinationRule", "gone.bar.global"),
                           theirs("ServiceEntry", "their-entry", {"hosts": ["their.example.com"]}),
                           ours("DestinationRule", "meshops-global", "istio-system", another_component)])
    result, _warnings = present(cluster, fleet_plan("httpbin"))
    deleted = [call for call in cluster.writes() if call[0] == "delete"]
    assert sorted(deleted) == [("delete", "DestinationRule", "bar", "gone.bar.global"),
                               ("delete", "ServiceEntry", "bar", "gone.bar.global")]
    assert result["deleted"] == 1 and result["destination_rules"]["deleted"] == 1


def test_without_prune_nothing_is_deleted():
    cluster = FakeCluster([namespace_object("bar"), ours("ServiceEntry", "gone.bar.global")])
    warnings = []
    Writer(cluster, warn=warnings.append).present(fleet_plan("httpbin"), "c2", prune=False)
    assert not [call for call in cluster.writes() if call[0] == "delete"]
