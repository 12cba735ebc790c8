"""resources.ObjectSet (mesh_resources): the set checked before any cluster is asked, applied with
only the difference written, pruned within its label and only of ours, removed, its Deployments
awaited; against a small fake client."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s import reconcile
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.resources import ObjectSet
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import managed_labels

SET = "multicluster.meshops.io/component=global-routing"
IN_SET = managed_labels({"multicluster.meshops.io/component": "global-routing"})


class FakeClient:
    """Objects by object_key; list filtered by namespace and label selector; writes recorded. With
    check_mode, as KubeClient: a write is answered with what it would send and not made."""

    def __init__(self, objects=(), check_mode=False):
        self.objects = {reconcile.object_key(obj): copy.deepcopy(obj) for obj in objects}
        self.writes, self.check_mode = [], check_mode

    def list(self, kind, namespace=None, label_selector=None):
        wanted = dict(pair.split("=", 1) for pair in label_selector.split(",")) if label_selector else {}
        return [copy.deepcopy(obj) for (k, ns, _name), obj in sorted(self.objects.items())
                if k == kind and namespace in (None, ns)
                and wanted.items() <= (obj["metadata"].get("labels") or {}).items()]

    def get(self, kind, name, namespace=None):
        obj = self.objects.get((kind, namespace or "", name))
        return copy.deepcopy(obj) if obj else None

    def apply(self, obj):
        if self.check_mode:
            return obj
        self.writes.append(("apply", reconcile.key_name(reconcile.object_key(obj))))
        stored = dict(copy.deepcopy(obj), status={"stored": True})
        self.objects[reconcile.object_key(obj)] = stored
        return stored

    def delete(self, kind, name, namespace=None):
        if self.check_mode:
            return
        self.writes.append(("delete", reconcile.key_name((kind, namespace or "", name))))
        self.objects.pop((kind, namespace or "", name), None)


def configmap(name, data=None, labels=None, namespace="istio-system"):
    meta = {"name": name, "namespace": namespace}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data or {"k": "v"}}


@pytest.mark.parametrize("objects, prune_label, prune_kinds, message", [
    ([{"kind": "CronJob", "metadata": {"name": "x"}}], None, None, r"objects\[0\].kind is 'CronJob': expected one of"),
    ([configmap("a"), {"kind": "ConfigMap", "metadata": {}}], None, None,
     r"objects\[1\].metadata.name is missing: every object needs a name"),
    ([{"kind": "ConfigMap", "metadata": {"name": "a"}}], None, None,
     r"objects\[0\] \(ConfigMap a\) has no metadata.namespace: ConfigMap is namespaced"),
    ([], None, ["CronJob"], "prune_kinds has 'CronJob': expected kinds among"),
    ([], "no-value", None, "prune_label is 'no-value': expected key=value"),
])
def test_a_set_it_cannot_hold_is_refused_naming_the_option(objects, prune_label, prune_kinds, message):
    with pytest.raises(MeshError, match=message):
        ObjectSet(objects, prune_label, prune_kinds)


def test_only_the_difference_is_written_and_only_ours_of_the_set_are_pruned():
    client = FakeClient([configmap("same", labels=IN_SET), configmap("changed", {"k": "old"}, IN_SET),
                         configmap("stale", labels=IN_SET),
                         configmap("other-set", labels=managed_labels({"multicluster.meshops.io/component": "dns"})),
                         configmap("theirs-in-set", labels={"multicluster.meshops.io/component": "global-routing"})])
    objects = ObjectSet([configmap("same"), configmap("changed", {"k": "new"}), configmap("new")], SET)
    result = objects.present(client)
    assert result["created"] == ["ConfigMap istio-system/new"] and result["updated"] == ["ConfigMap istio-system/changed"]
    assert result["deleted"] == ["ConfigMap istio-system/stale"] and result["unchanged"] == 1 and result["changed"]
    assert sorted(client.writes) == [("apply", "ConfigMap istio-system/changed"), ("apply", "ConfigMap istio-system/new"),
                                     ("delete", "ConfigMap istio-system/stale")]
    # each desired object as stored: the written ones as the server answered, the unchanged as listed
    assert [obj["metadata"]["name"] for obj in result["resources"]] == ["same", "changed", "new"]
    assert "status" not in result["resources"][0] and result["resources"][2]["status"] == {"stored": True}
    assert client.objects[("ConfigMap", "istio-system", "new")]["metadata"]["labels"] == IN_SET


def test_a_second_run_writes_nothing():
    client = FakeClient()
    ObjectSet([configmap("a")], SET).present(client)
    client.writes.clear()
    result = ObjectSet([configmap("a")], SET).present(client)
    assert not result["changed"] and client.writes == [] and result["unchanged"] == 1


def test_without_a_prune_label_nothing_is_pruned():
    client = FakeClient([configmap("stale", labels=IN_SET)])
    assert ObjectSet([configmap("a")]).present(client)["deleted"] == [] and ("ConfigMap", "istio-system", "stale") in client.objects


def test_an_object_of_the_same_name_that_is_not_ours_fails_the_set_with_nothing_written():
    client = FakeClient([configmap("taken", labels={"team": "x"})])
    with pytest.raises(MeshError, match="ConfigMap istio-system/taken already exist.s. without the label "
                                        "app.kubernetes.io/managed-by=meshops.multicluster: not ours"):
        ObjectSet([configmap("new"), configmap("taken")], SET).present(client)
    assert client.writes == []


def test_check_mode_reports_the_changes_and_writes_nothing():
    client = FakeClient([configmap("stale", labels=IN_SET)], check_mode=True)
    result = ObjectSet([configmap("new")], SET).present(client, diff=True)
    assert result["created"] == ["ConfigMap istio-system/new"] and result["deleted"] == ["ConfigMap istio-system/stale"]
    assert client.writes == [] and result["resources"] == [None]
    assert [entry["before_header"] for entry in result["diff"]] == ["ConfigMap istio-system/new", "ConfigMap istio-system/stale"]


def test_absent_deletes_only_the_objects_of_ours_that_exist():
    client = FakeClient([configmap("ours", labels=managed_labels()), configmap("theirs", labels={})])
    result = ObjectSet([configmap("ours"), configmap("theirs"), configmap("missing")]).absent(client)
    assert result["deleted"] == ["ConfigMap istio-system/ours"] and client.writes == [("delete", "ConfigMap istio-system/ours")]
    assert "resources" not in result


def deployment(available):
    conditions = [{"type": "Available", "status": "True"}] if available else []
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "zone", "namespace": "istio-system"},
            "spec": {"replicas": 1}}, {"conditions": conditions, "availableReplicas": int(available),
                                       "updatedReplicas": int(available)}


def test_a_deployment_not_available_in_time_fails_naming_it():
    desired, status = deployment(available=False)
    client = FakeClient()
    client.apply = lambda obj: dict(obj, status=status)  # as the API server stores it, not available yet
    client.get = lambda kind, name, namespace=None: dict(desired, status=status)
    with pytest.raises(MeshError, match=r"not Available after 0s: Deployment istio-system/zone: 0 of 1 replicas available"):
        ObjectSet([desired]).present(client, wait_timeout=0)


def test_an_available_deployment_ends_the_wait_and_check_mode_does_not_wait():
    desired, status = deployment(available=True)
    client = FakeClient()
    client.get = lambda kind, name, namespace=None: dict(desired, status=status)
    assert ObjectSet([desired]).present(client, wait_timeout=0)["created"] == ["Deployment istio-system/zone"]
    unread = FakeClient(check_mode=True)
    unread.get = None  # in check mode nothing is awaited: no Deployment is read
    assert ObjectSet([desired]).present(unread, wait_timeout=0)["changed"]
