# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bring a set of objects in one cluster to a desired state, writing only the difference.

compare() is pure: it compares the desired objects with what one list call returned and sorts them
into the Changes to make: create / update / unchanged / delete, and conflicts (an object of that
name exists and is not ours). execute() makes the Changes with server-side apply, in a few parallel
requests.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import API_VERSIONS, is_ours, subset_matches
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import MANAGED_BY, MANAGED_BY_LABEL
from ansible_collections.meshops.multicluster.plugins.module_utils._common.redaction import REDACTED

WRITE_WORKERS = 8


def object_key(obj):
    meta = obj["metadata"]
    return (obj["kind"], meta.get("namespace") or "", meta["name"])


def key_name(key):
    kind, namespace, name = key
    return "%s %s/%s" % (kind, namespace, name) if namespace else "%s %s" % (kind, name)


def owned(obj, extra_labels=None):
    """A copy of a desired object with apiVersion and the collection's labels filled in."""
    result = dict(obj)
    result.setdefault("apiVersion", API_VERSIONS.get(obj["kind"], obj.get("apiVersion")))
    meta = dict(obj["metadata"])
    labels = dict(meta.get("labels") or {})
    labels.update(extra_labels or {})
    labels[MANAGED_BY_LABEL] = MANAGED_BY
    meta["labels"] = labels
    result["metadata"] = meta
    return result


class Changes:
    """What one set of objects needs in one cluster to reach the desired state."""

    def __init__(self):
        self.create = []     # desired objects
        self.update = []     # (desired, live)
        self.unchanged = []  # desired objects
        self.delete = []     # live objects
        self.conflicts = []  # (desired, live) where live is not ours
        self.kept = []       # live objects left as they are on purpose
        self.waiting = []    # names of objects being deleted that are created again once gone

    @property
    def changed(self):
        return bool(self.create or self.update or self.delete)

    def counts(self, kind=None):
        """How many objects (of `kind`, or all) are created, updated, unchanged and deleted."""
        def count(objects):
            return sum(1 for obj in objects if kind is None or obj["kind"] == kind)
        return {"created": count(self.create), "updated": count(obj for obj, live in self.update),
                "unchanged": count(self.unchanged), "deleted": count(self.delete)}


def compare(desired, live, prune=True, prune_match=None):
    """The Changes that turn `live` into `desired`.

    desired: objects we want; live: what exists (ours and others', from one list per kind).

    prune_match(live_obj) limits pruning to one managed set (e.g. one component's label);
    by default every object of ours that is not desired is deleted.
    """
    result = Changes()
    live_by_key = {object_key(obj): obj for obj in live}
    desired_keys = set()
    for obj in desired:
        key = object_key(obj)
        desired_keys.add(key)
        current = live_by_key.get(key)
        if current is None:
            result.create.append(obj)
        elif not is_ours(current):
            result.conflicts.append((obj, current))
        elif subset_matches(_comparable(obj), current):
            result.unchanged.append(obj)
        else:
            result.update.append((obj, current))
    if prune:
        for key, current in live_by_key.items():
            if key not in desired_keys and is_ours(current) and (prune_match is None or prune_match(current)):
                result.delete.append(current)
    return result


def _comparable(obj):
    """The fields of a desired object the server echoes back unchanged (not apiVersion/kind)."""
    return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}


def execute(client, changes, workers=WRITE_WORKERS):
    """Apply creates and updates, delete what is pruned; requests run in parallel.

    Returns the objects as the server stored them, by object_key, for the applied ones.
    """
    changed = changes.create + [obj for obj, live in changes.update]
    # Namespaces first, one by one: the objects that go into them wait for them.
    namespaces = [obj for obj in changed if obj.get("kind") == "Namespace"]
    others = [obj for obj in changed if obj.get("kind") != "Namespace"]
    writes = namespaces + others

    def delete(obj):
        meta = obj["metadata"]
        return client.delete(obj["kind"], meta["name"], meta.get("namespace"))

    applied = [client.apply(obj) for obj in namespaces]
    if len(others) + len(changes.delete) <= 1:
        applied += [client.apply(obj) for obj in others]
        for obj in changes.delete:
            delete(obj)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            applied += list(pool.map(client.apply, others))
            list(pool.map(delete, changes.delete))
    return {object_key(obj): stored for obj, stored in zip(writes, applied)}


def summarize(obj):
    """What a diff shows of an object: identity and spec/data, without server bookkeeping."""
    meta = obj.get("metadata") or {}
    out = {"kind": obj.get("kind"), "metadata": {"name": meta.get("name")}}
    if meta.get("namespace"):
        out["metadata"]["namespace"] = meta["namespace"]
    if meta.get("labels"):
        out["metadata"]["labels"] = meta["labels"]
    for field in ("spec", "data"):
        if field in obj:
            out[field] = obj[field]
    if obj.get("kind") == "Secret":
        out["data"] = {key: REDACTED for key in obj.get("data") or {}}
    return out


def object_diff(before, after):
    """One Ansible diff entry for one object (the callback renders a list of these)."""
    header = key_name(object_key(after or before))
    return {"before_header": header, "after_header": header,
            "before": summarize(before) if before else "", "after": summarize(after) if after else ""}


def diff(*sets):
    """Ansible diff entries, one per object the Changes `sets` change."""
    return [object_diff(None, obj) for changes in sets for obj in changes.create] \
        + [object_diff(live, obj) for changes in sets for obj, live in changes.update] \
        + [object_diff(live, None) for changes in sets for live in changes.delete]
