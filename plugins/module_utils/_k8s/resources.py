# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep a set of the collection's objects in one cluster (the backend of mesh_resources, used by
the roles for the control plane's `*.global` routing, the istio-system namespace, the DNS zone
server): apply the whole set at once, prune the objects of the set that are no longer desired,
wait for its Deployments; or remove the set. An object of the same name that is not ours is never
touched: the set fails naming it."""

from __future__ import annotations

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.deployments import deployments_waiting
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s import reconcile
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KINDS
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import MANAGED_BY, MANAGED_BY_LABEL, is_ours
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.waiter import wait


def _check_objects(objects, prune_kinds):
    """Raises MeshError for the first kind or object the set cannot hold."""
    for kind in prune_kinds or []:
        if kind not in KINDS:
            raise MeshError("prune_kinds has %r: expected kinds among %s" % (kind, ", ".join(sorted(KINDS))), field="prune_kinds")
    for index, obj in enumerate(objects):
        where = "objects[%d]" % index
        kind = obj.get("kind")
        if kind not in KINDS:
            raise MeshError("%s.kind is %r: expected one of %s" % (where, kind, ", ".join(sorted(KINDS))), field="objects")
        meta = obj.get("metadata") or {}
        if not meta.get("name"):
            raise MeshError("%s.metadata.name is missing: every object needs a name" % where, field="objects")
        if KINDS[kind][2] and not meta.get("namespace"):
            raise MeshError("%s (%s %s) has no metadata.namespace: %s is namespaced" % (where, kind, meta["name"], kind),
                            field="objects")


def _parse_label(value):
    """{key: value} of a prune_label `key=value`; None without one."""
    if value is None:
        return None
    key, sep, label_value = value.partition("=")
    if not sep or not key:
        raise MeshError("prune_label is %r: expected key=value" % value, field="prune_label")
    return {key: label_value}


def _name(obj):
    return reconcile.key_name(reconcile.object_key(obj))


class ObjectSet:
    """The desired objects, each labelled as ours and with the set's prune label: checked when made
    (MeshError naming the bad option), before any cluster is asked."""

    def __init__(self, objects, prune_label=None, prune_kinds=None):
        _check_objects(objects, prune_kinds)
        self.labels = _parse_label(prune_label)
        self.prune_kinds = prune_kinds
        self.desired = [reconcile.owned(obj, self.labels) for obj in objects]

    def _in_set(self, obj):
        return all(obj["metadata"].get("labels", {}).get(k) == v for k, v in (self.labels or {}).items())

    def _live(self, client):
        """One list per (kind, namespace) of the desired objects; one labelled list per kind to prune."""
        live = {}
        scopes = {(obj["kind"], obj["metadata"].get("namespace") if KINDS[obj["kind"]][2] else None) for obj in self.desired}
        for kind, namespace in sorted(scopes, key=str):
            for item in client.list(kind, namespace):
                item.setdefault("kind", kind)
                live[reconcile.object_key(item)] = item
        if self.labels:
            selector = ",".join("%s=%s" % kv for kv in self.labels.items())
            for kind in sorted(self.prune_kinds or {obj["kind"] for obj in self.desired} or KINDS):
                for item in client.list(kind, label_selector=selector):
                    item.setdefault("kind", kind)
                    live[reconcile.object_key(item)] = item
        return list(live.values())

    def present(self, client, wait_timeout=None, diff=False):
        """Apply the set and prune it; with wait_timeout, wait that long for its Deployments to be
        Available. Returns the module's result, with each desired object as stored (`resources`).
        Raises MeshError naming the objects of the same name that are not ours (nothing written),
        or the Deployments not Available in time."""
        live = self._live(client)
        changes = reconcile.compare(self.desired, live, prune=bool(self.labels), prune_match=self._in_set)
        self._refuse_conflicts(changes)
        stored = reconcile.execute(client, changes)
        if client.check_mode:  # what was recorded, not stored: shown as before, the objects as they are
            stored = {}
        elif wait_timeout is not None:
            self._wait_available(client, wait_timeout)
        by_key = {reconcile.object_key(obj): obj for obj in live}
        by_key.update(stored)
        result = _result(changes, diff)
        result["resources"] = [by_key.get(reconcile.object_key(obj)) for obj in self.desired]
        return result

    def absent(self, client, wait_timeout=None, diff=False):
        """Delete those of the desired objects that exist and are ours. Returns the module's result.
        (wait_timeout as for present: the module has always waited after either state.)"""
        live = [client.get(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in self.desired]
        changes = reconcile.Changes()
        changes.delete = [dict(obj, kind=o["kind"]) for obj, o in zip(live, self.desired) if obj and is_ours(obj)]
        reconcile.execute(client, changes)
        if wait_timeout is not None and not client.check_mode:
            self._wait_available(client, wait_timeout)
        return _result(changes, diff)

    @staticmethod
    def _refuse_conflicts(changes):
        if changes.conflicts:
            names = ", ".join(_name(live) for _desired, live in changes.conflicts)
            raise MeshError("%s already exist(s) without the label %s=%s: not ours, so not changed. Remove or rename it, "
                            "or label it to hand it over." % (names, MANAGED_BY_LABEL, MANAGED_BY))

    def _wait_available(self, client, timeout):
        deployments = [(obj["metadata"]["namespace"], obj["metadata"]["name"])
                       for obj in self.desired if obj["kind"] == "Deployment"]
        waiting, _waited = wait(lambda: deployments_waiting(client, deployments), timeout)
        if waiting:
            raise MeshError("not Available after %ds: %s" % (timeout, "; ".join(waiting)))


def _result(changes, diff):
    """What mesh_resources returns of the changes: the names created, updated and deleted, how many
    were unchanged, and with diff the before and after of each."""
    result = dict(changed=changes.changed,
                  created=[_name(obj) for obj in changes.create],
                  updated=[_name(obj) for obj, _live in changes.update],
                  deleted=[_name(obj) for obj in changes.delete],
                  unchanged=len(changes.unchanged))
    if diff:
        result["diff"] = reconcile.diff(changes)
    return result
