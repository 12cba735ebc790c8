# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the service_entry module does in one cluster: read once, check everything, then write only
the difference - the VIP store (conditionally), namespaces, ServiceEntries and DestinationRules,
the zone server's records - or, with state absent, remove all of it.

Check mode is the client's (it records the writes): everything runs the same, but for what only a
write not made would need (client.check_mode): the control plane's namespace, which a check-mode
site.yml's control plane step did not create, and waiting for namespaces to finish their deletion.
"""

from __future__ import annotations

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s import namespaces as namespace_contents
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s import reconcile
from ansible_collections.meshops.multicluster.plugins.module_utils._services.render import (
    COMPONENT, COMPONENT_LABEL, OWNED_SELECTOR, reconcile_entries, reconcile_namespaces, render_destination_rules,
    render_entries, shadowing_rules)
from ansible_collections.meshops.multicluster.plugins.module_utils._services.plan import cluster_store
from ansible_collections.meshops.multicluster.plugins.module_utils._services.shapes import ClusterStore, FleetPlan
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KubeError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import ISTIO_NAMESPACE, MANAGED_BY, VIP_STORE, ZONE_RECORDS, is_ours
from ansible_collections.meshops.multicluster.plugins.module_utils._services.exports import PlanError
from ansible_collections.meshops.multicluster.plugins.module_utils._services.vips import store_configmap, store_matches
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.waiter import wait
from ansible_collections.meshops.multicluster.plugins.module_utils._dns.zone_records import records_configmap
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError

# What this step writes beside the VIP store and the records, one list call per kind.
KINDS = ("ServiceEntry", "DestinationRule")
CONCURRENT_RUN = ("another run changed the VIP allocation in this cluster since it was read "
                  "(ConfigMap %s/%s): nothing was written here; re-run")


class ServicesError(MeshError):
    """The run cannot go on in this cluster; nothing was written."""


class Writer:
    """One cluster's services step. The VIP store and the zone server's records live in the control
    plane's namespace, istio_namespace. warn(message) reports what the user should know."""

    def __init__(self, client, istio_namespace=ISTIO_NAMESPACE, diff=False, warn=None, namespace_timeout=120,
                 max_in_flight=reconcile.MAX_IN_FLIGHT):
        self.client, self.istio_namespace, self.diff = client, istio_namespace, diff
        self.max_in_flight = max_in_flight
        self.warn = warn or (lambda message: None)
        self.namespace_timeout = namespace_timeout

    def _get(self, kind, name, namespace):
        obj = self.client.get(kind, name, namespace)
        return dict(obj, kind=kind) if obj else None

    def _keep_namespaces_in_use(self, namespaces):
        """Take out of namespaces.delete each namespace of ours that holds anything of anyone else,
        or that this identity cannot prove empty, with a warning. One that holds others' objects is
        handed over: our labels removed (an update among the namespaces' changes, made with them). Returns the kept."""
        if not namespaces.delete:
            return []
        found = namespace_contents.contents(self.client, [ns["metadata"]["name"] for ns in namespaces.delete])
        kept = [ns for ns in namespaces.delete if not namespace_contents.empty(found[ns["metadata"]["name"]])]
        for ns in kept:
            name = ns["metadata"]["name"]
            namespaces.delete.remove(ns)
            self.warn(namespace_contents.kept_warning(name, found[name], COMPONENT_LABEL))
            if found[name].others:
                namespaces.update.append(({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, ns))
        return kept

    def present(self, fleet_plan: FleetPlan, cluster: str, prune=True, dns_records=True):
        """Bring the cluster to the plan. Raises ServicesError (nothing written) on any problem of the
        inventory or the control plane's namespace. A host the plan holds back, or that someone
        else's object clashes with here, is left as it is, with a warning; the others converge."""
        try:
            rendered = render_entries(fleet_plan, cluster) + render_destination_rules(fleet_plan, cluster)
            store, unavailable = cluster_store(fleet_plan, cluster), fleet_plan["unavailable"]
            held = dict(fleet_plan.get("held") or {})
        except (KeyError, TypeError) as exc:
            raise ServicesError("plan is not a plan of service_entry_plan (no %s)" % exc)
        except PlanError as exc:
            raise ServicesError("cluster_name: %s" % exc)
        desired = [reconcile.owned(obj, {COMPONENT_LABEL: COMPONENT}) for obj in rendered]
        live_namespaces = self.client.list("Namespace")
        live = [dict(obj, kind=kind) for kind in KINDS for obj in self.client.list(kind)]
        entries = reconcile_entries(desired, live, prune=prune, keep_exported_from=unavailable, keep_hosts=held)
        for warning in shadowing_rules(desired, live):
            self.warn(warning)
        for message in (message for messages in entries.skipped.values() for message in messages):
            self.warn("cluster %s: %s" % (cluster, message))
        # A kept entry's namespace stays too; a skipped host's is not made for it.
        written = [obj for obj in desired if obj["metadata"]["name"] not in entries.skipped]
        namespaces = reconcile_namespaces(written + entries.kept, live_namespaces, prune=prune)
        problems = []
        # In check mode of a whole site.yml the control plane step would have created it.
        if self.istio_namespace not in {ns["metadata"]["name"] for ns in live_namespaces} and not self.client.check_mode:
            problems.append("namespace %s does not exist: run the control plane step first" % self.istio_namespace)
        current_store = self._get("ConfigMap", VIP_STORE, self.istio_namespace)
        problems += self._not_ours(current_store)
        write_store = not store_matches(current_store, store)
        if write_store and (current_store or {}).get("metadata", {}).get("resourceVersion", "") != \
                (store.get("resource_version") or ""):
            problems.append(CONCURRENT_RUN % (self.istio_namespace, VIP_STORE))
        records = reconcile.Changes()
        if dns_records:
            current = self._get("ConfigMap", ZONE_RECORDS, self.istio_namespace)
            records = reconcile.compare([records_configmap(fleet_plan["allocations"], self.istio_namespace)],
                                        [current] if current else [], prune=False)
            problems += self._not_ours(current)
        if problems:
            raise ServicesError("nothing was written; %d problem(s):\n- %s" % (len(problems), "\n- ".join(problems)))
        kept = self._keep_namespaces_in_use(namespaces)
        self._await_deleted(namespaces.waiting)
        done = []  # what was written, in order, for a failure's report
        if write_store:
            self._write_store(store, current_store)
            done.append(("create" if not current_store else "replace", "ConfigMap", self.istio_namespace, VIP_STORE))
        self._execute((namespaces, entries, records), done)  # namespaces exist before their entries
        result = self._result(entries, namespaces, kept, write_store, records.changed)
        result.update(held=held, skipped=entries.skipped)
        result["changed"] = entries.changed or namespaces.changed or records.changed or write_store
        if self.diff:
            result["diff"] = reconcile.diff(namespaces, entries, records)
            if write_store:
                result["diff"].append(reconcile.object_diff(current_store, store_configmap(store, self.istio_namespace)))
        return result

    def absent(self):
        """Delete everything this step made in the cluster."""
        changes = reconcile.Changes()
        changes.delete = [dict(obj, kind=kind) for kind in KINDS
                          for obj in self.client.list(kind, label_selector=OWNED_SELECTOR)]
        configmaps = [obj for obj in (self._get("ConfigMap", VIP_STORE, self.istio_namespace),
                                      self._get("ConfigMap", ZONE_RECORDS, self.istio_namespace))
                      if obj and is_ours(obj)]
        changes.delete += configmaps
        namespaces = reconcile.Changes()
        namespaces.delete = [dict(ns, kind="Namespace") for ns in self.client.list("Namespace", label_selector=OWNED_SELECTOR)]
        kept = self._keep_namespaces_in_use(namespaces)
        self._execute((changes, namespaces), [])
        names = {obj["metadata"]["name"] for obj in configmaps}
        result = self._result(changes, namespaces, kept, VIP_STORE in names, ZONE_RECORDS in names)
        result["changed"] = changes.changed or namespaces.changed
        if self.diff:
            result["diff"] = reconcile.diff(changes, namespaces)
        return result

    def _execute(self, sets, done):
        """reconcile.execute of each set of changes in turn, each with up to max_in_flight writes at once;
        a failure is reported with everything written before it in this run (`done`) and the writes
        of the later sets counted as not tried."""
        for number, changes in enumerate(sets):
            try:
                reconcile.execute(self.client, changes, self.max_in_flight, done)
            except reconcile.PartialWrite as exc:
                later = sum(len(reconcile.write_keys(rest)) for rest in sets[number + 1:])
                raise reconcile.PartialWrite(exc.written, exc.failed, exc.not_tried + later, exc.first_error)

    @staticmethod
    def _result(objects, namespaces, kept, store_changed, records_changed):
        def counts(kind):
            return dict(objects.counts(kind), kept=sum(1 for obj in objects.kept if obj["kind"] == kind))
        return dict(counts("ServiceEntry"), destination_rules=counts("DestinationRule"),
                    vip_store_changed=store_changed, dns_records_changed=records_changed,
                    namespaces={"created": [ns["metadata"]["name"] for ns in namespaces.create],
                                "deleted": [ns["metadata"]["name"] for ns in namespaces.delete],
                                "kept": [ns["metadata"]["name"] for ns in kept],
                                "awaited": list(namespaces.waiting)})

    @staticmethod
    def _not_ours(obj):
        return ["%s exists and is not managed by %s: not changed; remove it or label it to hand it over"
                % (reconcile.key_name(reconcile.object_key(obj)), MANAGED_BY)] if obj and not is_ours(obj) else []

    def _await_deleted(self, names):
        """Namespaces needed again while they are being deleted: wait until they are gone (not in check
        mode: only the creates that are not sent would need them gone)."""
        if not names or self.client.check_mode:
            return
        left, waited = wait(lambda: [n for n in names if self.client.get("Namespace", n) is not None],
                            self.namespace_timeout, interval=2)
        if left:
            raise ServicesError("namespace(s) %s still being deleted after %ds: nothing was written; re-run when "
                                "they are gone (kubectl get namespace %s)" % (", ".join(left), waited, left[0]))
        self.warn("waited %.0fs for namespace(s) %s to finish their deletion before creating them again"
                  % (waited, ", ".join(names)))

    def _write_store(self, store: ClusterStore, current):
        """Replace (or create) the store with the read resourceVersion as precondition: a concurrent
        run's write makes this fail with 409 instead of silently handing one VIP to two hosts."""
        body = store_configmap(store, self.istio_namespace)
        try:
            if current:
                body["metadata"]["resourceVersion"] = store["resource_version"]
                self.client.replace(body)
            else:
                self.client.create(body)
        except KubeError as exc:
            if exc.status == 409:
                raise ServicesError(CONCURRENT_RUN % (self.istio_namespace, VIP_STORE))
            raise
