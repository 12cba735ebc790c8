# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bring a set of objects in one cluster to a desired state, writing only the difference.

compare() is pure: it compares the desired objects with what one list call returned and sorts them
into the Changes to make: create / update / unchanged / delete, and conflicts (an object of that
name exists and is not ours). execute() makes the Changes with server-side apply, a bounded number of
requests in flight at once (run_bounded), and reports exactly what it wrote when one fails (PartialWrite).
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from itertools import islice

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import API_VERSIONS, KubeError, subset_matches
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import MANAGED_BY, MANAGED_BY_LABEL, is_ours
from ansible_collections.meshops.multicluster.plugins.module_utils._common.redaction import REDACTED

# Write requests in flight at once per cluster (mesh_k8s_max_in_flight); chosen by measurement: at
# 50 ms round trip one lab cluster took 15/21/52/81/66/35 applies per second at 1/2/4/8/16/32 in flight
# (issue 26).
MAX_IN_FLIGHT = 8
# Objects that do not exist yet are applied too, not created (POST): a create cost the lab's API
# server 10-30% less CPU (200 ServiceEntries, 8 in flight: 1.26-1.83 vs 1.89-2.02 CPU s), but it
# leaves the fields to an Update entry of our manager, so a later apply that drops a field (a port)
# does not remove it (verified on the lab, issue 26).


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


def execute(client, changes, max_in_flight=MAX_IN_FLIGHT, done=None):
    """Apply creates and updates, delete what is pruned, keeping up to `max_in_flight` requests in
    flight (over as many reused connections of the client's pool). Namespaces first (the objects that
    go into them wait for them), the rest after.

    Returns the objects as the server stored them, by object_key, for the applied ones. On a failure
    no further request starts; those in flight finish; PartialWrite says what was written, what
    failed and what was not tried, with the first error (the next run converges: it writes what is
    still missing). done: a list of the keys (write_keys) the caller's run wrote before, reported with
    the written ones and extended by those of this set; when none was written and one write failed,
    its error is raised as it is.
    """
    done = [] if done is None else done
    if getattr(client, "check_mode", False):  # nothing is sent: the writes are recorded in their order
        max_in_flight = 1
    changed = changes.create + [obj for obj, live in changes.update]
    namespaces = [obj for obj in changed if obj.get("kind") == "Namespace"]
    others = [obj for obj in changed if obj.get("kind") != "Namespace"]

    def delete(obj):
        meta = obj["metadata"]
        return client.delete(obj["kind"], meta["name"], meta.get("namespace"))

    def apply(obj):
        return lambda: client.apply(obj)

    phases = [[(("apply",) + object_key(obj), apply(obj)) for obj in namespaces],
              [(("apply",) + object_key(obj), apply(obj)) for obj in others]
              + [(("delete",) + object_key(obj), (lambda obj=obj: delete(obj))) for obj in changes.delete]]
    results = {}
    for number, calls in enumerate(phases):
        try:
            finished = run_bounded(calls, max_in_flight)
        except PartialWrite as exc:
            done += exc.written
            if not done and len(exc.failed) == 1:  # nothing written: the error as it is (a Forbidden worded)
                raise exc.first_error
            later = sum(len(phase) for phase in phases[number + 1:])
            raise PartialWrite(done, exc.failed, exc.not_tried + later, exc.first_error)
        done += list(finished)
        results.update(finished)
    return {key[1:]: stored for key, stored in results.items() if key[0] == "apply"}


class PartialWrite(KubeError):
    """Some writes of a set were made, one failed (and maybe others in flight with it), the rest were
    not tried. written/failed: ("apply" or "delete", kind, namespace, name) keys (failed with their
    error); first_error: the error that stopped the set, the message the user reads first."""

    def __init__(self, written, failed, not_tried, first_error):
        self.written, self.failed, self.not_tried, self.first_error = list(written), list(failed), not_tried, first_error
        self.suffix = (" (%d write(s) made before it, %d failed, %d not tried; a re-run writes what is missing)"
                       % (len(self.written), len(self.failed), not_tried))
        super().__init__("%s%s" % (first_error, self.suffix),
                         status=getattr(first_error, "status", None), reason=getattr(first_error, "reason", None))
        self.partial = {"written": [write_name(key) for key in self.written],
                        "failed": {write_name(key): str(error) for key, error in self.failed}}


def write_keys(changes):
    """The keys of the writes execute() makes for `changes`."""
    return [("apply",) + object_key(obj) for obj in changes.create + [obj for obj, _live in changes.update]] \
        + [("delete",) + object_key(obj) for obj in changes.delete]


def write_name(key):
    """'apply ServiceEntry ns/name' of a write's key (any other key as it is)."""
    return "%s %s" % (key[0], key_name(key[1:])) if isinstance(key, tuple) and len(key) == 4 else str(key)


def run_bounded(calls, max_in_flight):
    """Run calls [(key, fn)] with at most max_in_flight at once, started in the order given; returns
    {key: fn()}. Once one fails no further call starts; those in flight finish (their results are
    kept as written or failed) and PartialWrite is raised, its first_error the first failure seen."""
    results, failed = {}, []
    if max_in_flight <= 1 or len(calls) <= 1:
        for number, (key, fn) in enumerate(calls):
            try:
                results[key] = fn()
            except Exception as exc:  # noqa: BLE001 - reported with what was written
                raise PartialWrite(list(results), [(key, exc)], len(calls) - number - 1, exc)
        return results
    waiting = iter(calls)
    started = 0
    with ThreadPoolExecutor(max_workers=min(max_in_flight, len(calls))) as pool:
        running = {}
        for key, fn in islice(waiting, max_in_flight):
            running[pool.submit(fn)] = key
            started += 1
        while running:
            finished, _pending = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                key = running.pop(future)
                try:
                    results[key] = future.result()
                except Exception as exc:  # noqa: BLE001 - reported with what was written
                    failed.append((key, exc))
            if not failed:
                for key, fn in islice(waiting, len(finished)):
                    running[pool.submit(fn)] = key
                    started += 1
    if failed:
        raise PartialWrite(list(results), failed, len(calls) - started, failed[0][1])
    return results


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
