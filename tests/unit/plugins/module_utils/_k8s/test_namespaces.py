"""Whether a namespace we created holds anything of anyone else (namespace_contents), and what the
services step does with one it no longer needs (services_writer), against a small fake client."""

from __future__ import annotations

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s import namespaces as namespace_contents
from ansible_collections.meshops.multicluster.plugins.module_utils._services.render import namespace_object
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KubeError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import MANAGED_BY_LABEL, managed_labels
from ansible_collections.meshops.multicluster.plugins.module_utils._services.writer import Writer

EVERYTHING = ({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},)
# As discovery returns them: (path, group, resource, kind).
RESOURCES = [("api/v1", "", "configmaps", "ConfigMap"), ("api/v1", "", "secrets", "Secret"),
             ("api/v1", "", "serviceaccounts", "ServiceAccount"), ("api/v1", "", "pods", "Pod"),
             ("api/v1", "", "events", "Event"), ("apis/events.k8s.io/v1", "events.k8s.io", "events", "Event"),
             ("apis/apps/v1", "apps", "deployments", "Deployment"), ("apis/apps/v1", "apps", "replicasets", "ReplicaSet"),
             ("apis/batch/v1", "batch", "cronjobs", "CronJob"),
             ("apis/networking.istio.io/v1", "networking.istio.io", "serviceentries", "ServiceEntry")]
KIND_OF = {resource: kind for _path, _group, resource, kind in RESOURCES}


def obj(name, labels=None, owner=None):
    meta = {"name": name, "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": owner[0], "kind": owner[1], "name": "x", "uid": "1"}]
    return {"metadata": meta}


class FakeClient:
    """Objects by (namespace, resource); requests as KubeClient.request answers them; a list in
    pages of the `limit` asked for, filtered by the label selector NOT_OURS. With check_mode, as
    KubeClient: writes are recorded, not made."""

    def __init__(self, objects, rules=EVERYTHING, failing=(), undiscovered=(), check_mode=False):
        self.objects, self.rules, self.failing, self.undiscovered = objects, rules, failing, list(undiscovered)
        self.paths, self.applied, self.deleted, self.recorded, self.check_mode = [], [], [], [], check_mode
        self.namespaces = {ns: dict(namespace_object(ns), kind="Namespace") for ns, _resource in objects}

    def namespaced_resources(self):
        return [{"path": p, "group": g, "resource": r, "kind": k} for p, g, r, k in RESOURCES], self.undiscovered

    def review_rules(self, namespace):
        return self.rules

    def request(self, method, path, query=None):
        assert method == "GET" and query["labelSelector"] == namespace_contents.NOT_OURS
        self.paths.append(path)
        namespace, resource = path.split("/")[-2:]
        if resource in self.failing:
            raise KubeError("GET %s: 503 service unavailable" % path, status=503)
        items = [item for item in self.objects.get((namespace, resource), [])
                 if item["metadata"]["labels"].get(MANAGED_BY_LABEL) != "meshops.multicluster"]
        start = int(query.get("continue", 0))
        page = items[start:start + query["limit"]]
        more = start + query["limit"] < len(items)
        return {"items": page, "metadata": {"continue": str(start + query["limit"])} if more else {}}

    # What services_writer.Writer.absent uses besides.
    def list(self, kind, namespace=None, label_selector=None):
        if kind == "Namespace":
            return list(self.namespaces.values())
        return [dict(item, metadata=dict(item["metadata"], namespace=ns)) for (ns, resource), items in self.objects.items()
                for item in items if KIND_OF.get(resource) == kind and item["metadata"]["labels"]]

    def get(self, kind, name, namespace=None):
        return None

    def apply(self, body):
        (self.recorded if self.check_mode else self.applied).append(body)

    def delete(self, kind, name, namespace=None):
        (self.recorded if self.check_mode else self.deleted).append((kind, namespace, name))


def found(objects, **kwargs):
    return namespace_contents.contents(FakeClient(objects, **kwargs), ["shop"])["shop"]


def test_what_kubernetes_and_istiod_put_in_every_namespace_and_our_objects_leave_it_empty():
    ours = managed_labels()
    result = found({("shop", "configmaps"): [obj("kube-root-ca.crt"), obj("istio-ca-root-cert"), obj("istio-ca-crl"),
                                             obj("vips", ours)],
                    ("shop", "serviceaccounts"): [obj("default")],
                    ("shop", "serviceentries"): [obj("pay.fx.global", ours)],
                    ("shop", "events"): [obj("pay.17a")]})
    assert result == namespace_contents.Contents({}, [], []) and namespace_contents.empty(result)


@pytest.mark.parametrize("resource, kind", [("secrets", "Secret"), ("configmaps", "ConfigMap"), ("pods", "Pod"),
                                            ("cronjobs", "CronJob.batch"), ("serviceaccounts", "ServiceAccount"),
                                            ("serviceentries", "ServiceEntry.networking.istio.io")])
def test_any_object_of_anyone_else_of_any_listed_kind_is_found(resource, kind):
    result = found({("shop", resource): [obj("theirs", {"team": "shop"})]})
    assert result.others == {kind: ["theirs"]} and not namespace_contents.empty(result)


def test_objects_derived_from_one_in_the_namespace_are_not_counted_but_their_owner_is():
    result = found({("shop", "replicasets"): [obj("web-5d4", owner=("apps/v1", "Deployment"))],
                    ("shop", "pods"): [obj("web-5d4-x", owner=("apps/v1", "ReplicaSet")),
                                       obj("bare", owner=("v1", "Node"))],  # a cluster-scoped owner: counted
                    ("shop", "cronjobs"): [obj("backup")]})
    assert result.others == {"Pod": ["bare"], "CronJob.batch": ["backup"]}


def test_every_kind_is_listed_once_in_the_namespace_but_events():
    client = FakeClient({})
    namespace_contents.contents(client, ["shop"])
    assert sorted(client.paths) == sorted("/%s/namespaces/shop/%s" % (p, r) for p, _g, r, k in RESOURCES if k != "Event")


def test_a_few_names_are_kept_and_paging_stops_once_there_are_more():
    client = FakeClient({("shop", "secrets"): [obj("s%03d" % n) for n in range(250)],
                         ("shop", "configmaps"): [obj("kube-root-ca.crt")] * 150 + [obj("late")]})
    result = namespace_contents.contents(client, ["shop"])["shop"]
    assert result.others == {"Secret": ["s%03d" % n for n in range(namespace_contents.PAGE)], "ConfigMap": ["late"]}
    assert client.paths.count("/api/v1/namespaces/shop/secrets") == 1
    assert client.paths.count("/api/v1/namespaces/shop/configmaps") == 2  # past a page of expected objects
    assert namespace_contents.describe_others(result.others) == "ConfigMap late; Secret s000, s001, s002 and more"


def test_a_kind_this_identity_may_not_list_is_not_asked_and_cannot_be_proven_empty():
    rules = [{"verbs": ["list"], "apiGroups": ["", "apps", "batch", "events.k8s.io", "networking.istio.io"],
              "resources": ["configmaps", "serviceaccounts", "pods", "deployments", "replicasets", "cronjobs",
                            "serviceentries"]}]
    client = FakeClient({}, rules=rules)
    result = namespace_contents.contents(client, ["shop"])["shop"]
    assert result == namespace_contents.Contents({}, ["Secret"], [])
    assert "/api/v1/namespaces/shop/secrets" not in client.paths  # no request the API server would deny
    assert not namespace_contents.empty(result)


def test_an_api_that_does_not_answer_cannot_be_proven_empty():
    result = found({}, failing=("cronjobs",), undiscovered=["metrics.k8s.io/v1beta1: 503"])
    assert result.failed == ["metrics.k8s.io/v1beta1: 503",
                             "CronJob.batch: GET /apis/batch/v1/namespaces/shop/cronjobs: 503 service unavailable"]
    assert not namespace_contents.empty(result)


def test_warnings_say_what_is_there_or_what_could_not_be_checked_and_what_happens():
    others = namespace_contents.Contents({"Secret": ["db"]}, ["Pod"], [])
    text = namespace_contents.kept_warning("shop", others, "component")
    assert "namespace shop " in text and "holds objects that are not ours: Secret db" in text
    assert "labels (app.kubernetes.io/managed-by, component) removed" in text
    unchecked = namespace_contents.Contents({}, ["K%02d" % n for n in range(12)], ["CronJob.batch: 503"])
    text = namespace_contents.kept_warning("shop", unchecked, "component")
    assert "may not list K00, K01" in text and "K09 and 2 more" in text and "K10" not in text
    assert "could not read CronJob.batch: 503" in text and "still labelled as ours" in text


def writer_absent(objects, rules=EVERYTHING, check_mode=False):
    client, warnings = FakeClient(objects, rules=rules, check_mode=check_mode), []
    result = Writer(client, warn=warnings.append).absent()
    return client, result, warnings


def test_uninstall_deletes_a_namespace_of_ours_only_while_it_holds_nothing_else():
    client, result, warnings = writer_absent({("empty", "configmaps"): [obj("kube-root-ca.crt")],
                                              ("shop", "secrets"): [obj("db")],
                                              ("shop", "serviceentries"): [obj("pay.fx.global", managed_labels())]})
    assert ("Namespace", None, "empty") in client.deleted and ("Namespace", None, "shop") not in client.deleted
    assert result["namespaces"]["deleted"] == ["empty"] and result["namespaces"]["kept"] == ["shop"]
    # handed over: applied without our labels
    assert {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}} in client.applied
    assert result["changed"] and len(warnings) == 1 and "Secret db" in warnings[0]


def test_uninstall_keeps_a_namespace_it_cannot_prove_empty_labelled_as_ours():
    rules = [{"verbs": ["list"], "apiGroups": ["*"], "resources": ["configmaps"]}]
    client, result, warnings = writer_absent({("shop", "configmaps"): [obj("kube-root-ca.crt")]}, rules=rules)
    assert client.deleted == [] and client.applied == [] and result["namespaces"]["kept"] == ["shop"]
    assert "may not list Secret" in warnings[0] and "still labelled as ours" in warnings[0]


def test_check_mode_writes_nothing_and_reports_the_same():
    objects = {("empty", "configmaps"): [obj("kube-root-ca.crt")], ("shop", "secrets"): [obj("db")],
               ("shop", "serviceentries"): [obj("pay.fx.global", managed_labels())]}
    client, result, warnings = writer_absent(objects, check_mode=True)
    assert client.applied == client.deleted == [] and result["namespaces"]["kept"] == ["shop"] and warnings
    real, real_result, real_warnings = writer_absent(objects)
    assert (result, warnings) == (real_result, real_warnings)
    assert sorted(map(repr, client.recorded)) == sorted(map(repr, real.applied + real.deleted))
