"""reconcile: sorting desired and live objects into create / update / unchanged / delete / conflicts,
and the diffs shown to users (never a Secret's data)."""

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s import reconcile

OURS = {"app.kubernetes.io/managed-by": "meshops.multicluster"}


def obj(name, labels=None, data=None, kind="ConfigMap"):
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": "ns", "labels": labels or {}},
            "data": data or {"k": "v"}}


def names(objects):
    return [o["metadata"]["name"] for o in objects]


def test_compare_sorts_and_prunes_only_ours_within_the_set():
    desired = [reconcile.owned(obj("same")), reconcile.owned(obj("changed", data={"k": "new"})),
               reconcile.owned(obj("new")), reconcile.owned(obj("theirs"))]
    live = [dict(obj("same", OURS), metadata=dict(obj("same", OURS)["metadata"], uid="u1")),  # server fields
            obj("changed", OURS), obj("theirs", {"team": "x"}), obj("stale", OURS), obj("unrelated", {"team": "x"}),
            obj("other-set", dict(OURS, set="b"))]
    changes = reconcile.compare(desired, live, prune_match=lambda o: o["metadata"]["labels"].get("set") != "b")
    assert names(changes.create) == ["new"] and names(changes.unchanged) == ["same"]
    assert [d["metadata"]["name"] for d, _live in changes.update] == ["changed"]
    assert [d["metadata"]["name"] for d, _live in changes.conflicts] == ["theirs"]
    assert names(changes.delete) == ["stale"]
    assert changes.counts() == {"created": 1, "updated": 1, "unchanged": 1, "deleted": 1} and changes.changed
    assert reconcile.compare(desired, live, prune=False).delete == []


def test_owned_adds_the_label_and_api_version_without_changing_the_input():
    raw = {"kind": "ServiceEntry", "metadata": {"name": "a", "namespace": "ns", "labels": {"x": "1"}}}
    owned = reconcile.owned(raw, {"multicluster.meshops.io/component": "services"})
    assert owned["apiVersion"] == "networking.istio.io/v1"
    assert owned["metadata"]["labels"] == dict(OURS, x="1", **{"multicluster.meshops.io/component": "services"})
    assert raw["metadata"]["labels"] == {"x": "1"}


def test_diffs_show_what_changes_and_redact_secrets():
    secret = dict(obj("cacerts", kind="Secret"), data={"ca-key.pem": "c2VjcmV0"})
    changes = reconcile.Changes()
    changes.create, changes.delete = [secret], [obj("gone", OURS)]
    entries = reconcile.diff(changes)
    assert entries[0]["before"] == "" and entries[0]["after"]["data"] == {"ca-key.pem": "<redacted>"}
    assert entries[0]["after_header"] == "Secret ns/cacerts"
    assert entries[1]["after"] == "" and entries[1]["before"]["data"] == {"k": "v"}
    assert "c2VjcmV0" not in str(entries)
