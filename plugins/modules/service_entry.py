#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: service_entry
short_description: Keep one cluster's whole set of mesh ServiceEntries and DestinationRules, VIP store and C(.global) DNS records
version_added: 0.1.0
description:
  - One call per cluster takes the fleet's plan from M(meshops.multicluster.service_entry_plan),
    renders this cluster's whole desired set of ServiceEntries from it, each with a DestinationRule
    of the same name (Istio mutual TLS, outlier detection, locality failover as the plan's
    C(policy) says), lists the cluster's ServiceEntries, DestinationRules and Namespaces once each,
    applies (server-side apply, field manager C(meshops.multicluster)) only the objects that
    differ, and deletes the objects of this step that are no longer desired.
  - Everything it writes is labelled C(app.kubernetes.io/managed-by=meshops.multicluster) and
    C(multicluster.meshops.io/component=services); only objects with both labels are ever updated
    or pruned.
  - Namespaces of the entries are created when missing (labelled as ours) and deleted again when
    no entry needs them, unless they hold Services or Deployments. Namespaces made by others are
    used as they are.
  - Writes the cluster's copy of the VIP store (ConfigMap C(istio-system/meshops-vips)) first, only
    if the store still has the resourceVersion the plan was computed from; otherwise another run
    changed the allocation meanwhile and the module fails before writing anything.
  - With O(dns_records), keeps ConfigMap C(istio-system/istiocoredns-records) (key C(global.hosts)),
    served by the C(global) zone server, in step with the VIPs.
  - Entries exported from a cluster the plan lists as unavailable (it could not be read) are left
    exactly as they are, neither updated nor pruned, with their namespaces.
  - Everything is checked before the first write; the module fails, naming each, on a
    ServiceEntry of someone else that holds one of the names, hosts or VIPs of the set, or a
    DestinationRule of someone else with one of the names. It warns about a DestinationRule of
    someone else for one of the hosts (Istio applies only one rule per host).
options:
  plan:
    description:
      - The fleet's plan from M(meshops.multicluster.service_entry_plan) (its C(services), C(gateways)
        and C(layout) are used); this cluster's ServiceEntries are rendered from it. Required with
        O(state=present).
    type: dict
  cluster_name:
    description: This cluster's name in O(plan). Required with O(state=present).
    type: str
  prune:
    description: Delete this step's ServiceEntries (and namespaces) that are not in the plan for this cluster.
    type: bool
    default: true
  dns_records:
    description: Keep ConfigMap C(istio-system/istiocoredns-records) (host to VIP, for the C(global) zone server) in step with the plan.
    type: bool
    default: true
  state:
    description:
      - V(absent) deletes all of this step's ServiceEntries and namespaces, the VIP store and the DNS
        records of the cluster; the other options are ignored.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - meshops.multicluster.k8s_auth
attributes:
  check_mode:
    support: full
    description: Reports what would change; nothing is written.
  diff_mode:
    support: full
    description: Before and after of every changed object.
  idempotent:
    support: full
    description: A second run reports no change and makes no write request.
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
- name: ServiceEntries of this cluster
  meshops.multicluster.service_entry:
    plan: "{{ fleet.plan }}"  # registered from service_entry_plan
    cluster_name: "{{ mesh_cluster_name }}"

- name: Remove them all
  meshops.multicluster.service_entry:
    state: absent
"""

RETURN = r"""
created:
  description: Number of ServiceEntries created.
  returned: success
  type: int
updated:
  description: Number of ServiceEntries re-applied because they differed.
  returned: success
  type: int
deleted:
  description: Number of ServiceEntries deleted (pruned, or all with O(state=absent)).
  returned: success
  type: int
unchanged:
  description: Number of ServiceEntries already as desired.
  returned: success
  type: int
kept:
  description: Number of ServiceEntries left as they are because they come from a cluster the plan lists as unavailable.
  returned: success
  type: int
destination_rules:
  description: The DestinationRules beside the ServiceEntries, counted like them.
  returned: success
  type: dict
  sample: {created: 1, updated: 0, deleted: 0, unchanged: 4, kept: 0}
namespaces:
  description: Namespaces created and deleted, and obsolete ones kept because they hold workloads.
  returned: success
  type: dict
  sample: {created: [bar], deleted: [], kept: []}
vip_store_changed:
  description: Whether the VIP store was (or would be) written or deleted.
  returned: success
  type: bool
dns_records_changed:
  description: Whether the DNS records were (or would be) written or deleted.
  returned: success
  type: bool
api_requests:
  description: Read and write requests this run made to the API server.
  returned: always
  type: dict
  sample: {read: 4, write: 0}
"""

import json

from ansible_collections.meshops.multicluster.plugins.module_utils import reconcile
from ansible_collections.meshops.multicluster.plugins.module_utils.k8s import (
    FIELD_MANAGER, MANAGED_BY, KubeError, is_ours, resource_path)
from ansible_collections.meshops.multicluster.plugins.module_utils.module import k8s_client, k8s_module
from ansible_collections.meshops.multicluster.plugins.module_utils.service_entries import (
    OWNED_SELECTOR, COMPONENT, COMPONENT_LABEL, PlanError, reconcile_entries, reconcile_namespaces,
    render_destination_rules, render_entries, shadowing_rules)
from ansible_collections.meshops.multicluster.plugins.module_utils.vip_allocation import (
    STORE_NAME, STORE_NAMESPACE, store_configmap, store_matches)
from ansible_collections.meshops.multicluster.plugins.module_utils.zone_records import (
    NAMESPACE as RECORDS_NAMESPACE, RECORDS_CONFIGMAP, records_configmap)

# What this step writes beside the VIP store and the records, one list call per kind.
KINDS = ("ServiceEntry", "DestinationRule")
CONCURRENT_RUN = ("another run changed the VIP allocation in this cluster since it was read "
                  "(ConfigMap %s/%s): nothing was written here; re-run" % (STORE_NAMESPACE, STORE_NAME))


def _get(client, kind, name, namespace):
    obj = client.get(kind, name, namespace)
    return dict(obj, kind=kind) if obj else None


def _not_ours(obj):
    return ["%s exists and is not managed by %s: not changed; remove it or label it to hand it over"
            % (reconcile.key_name(reconcile.object_key(obj)), MANAGED_BY)] if obj and not is_ours(obj) else []


def _holds_workloads(client, namespace):
    return bool(client.list("Service", namespace) or client.list("Deployment", namespace))


def _store_plan(client, store, problems):
    """(current ConfigMap, whether to write) for the VIP store; problems appended."""
    current = _get(client, "ConfigMap", STORE_NAME, STORE_NAMESPACE)
    problems += _not_ours(current)
    write = not store_matches(current, store)
    if write and ((current or {}).get("metadata", {}).get("resourceVersion") or "") != (store.get("resource_version") or ""):
        problems.append(CONCURRENT_RUN)
    return current, write


def _write_store(client, store, current):
    """Replace (or create) the store with the read resourceVersion as precondition: a concurrent
    run's write makes this fail with 409 instead of silently handing one VIP to two hosts."""
    body = store_configmap(store)
    query = {"fieldManager": FIELD_MANAGER}
    try:
        if current:
            body["metadata"]["resourceVersion"] = store["resource_version"]
            client.request("PUT", resource_path("ConfigMap", STORE_NAMESPACE, STORE_NAME), query, json.dumps(body))
        else:
            client.request("POST", resource_path("ConfigMap", STORE_NAMESPACE), query, json.dumps(body))
    except KubeError as exc:
        if exc.status == 409:
            raise KubeError(CONCURRENT_RUN, status=409)
        raise


def _present(module, client):
    params = module.params
    fleet_plan, cluster = params["plan"], params["cluster_name"]
    try:
        rendered = render_entries(fleet_plan, cluster) + render_destination_rules(fleet_plan, cluster)
        store, unavailable = fleet_plan["clusters"][cluster]["vip_store"], fleet_plan["unavailable"]
    except (KeyError, TypeError) as exc:
        module.fail_json(msg="plan is not a plan of service_entry_plan (no %s)" % exc)
    except PlanError as exc:
        module.fail_json(msg="cluster_name: %s" % exc)
    desired = [reconcile.owned(obj, {COMPONENT_LABEL: COMPONENT}) for obj in rendered]
    live_namespaces = client.list("Namespace")
    live = [dict(obj, kind=kind) for kind in KINDS for obj in client.list(kind)]
    entries = reconcile_entries(desired, live, prune=params["prune"], keep_exported_from=unavailable)
    for warning in shadowing_rules(desired, live):
        module.warn(warning)
    # A kept entry's namespace stays too.
    namespaces = reconcile_namespaces(desired + entries.kept, live_namespaces, prune=params["prune"])
    problems = entries.conflicts + namespaces.conflicts
    records = reconcile.Plan()
    # In check mode of a whole site.yml the control plane step would have created it.
    if STORE_NAMESPACE not in {ns["metadata"]["name"] for ns in live_namespaces} and not module.check_mode:
        problems.append("namespace %s does not exist: run the control plane step first" % STORE_NAMESPACE)
    current_store, write_store = _store_plan(client, store, problems)
    if params["dns_records"]:
        wanted = records_configmap(fleet_plan["allocations"])
        current = _get(client, "ConfigMap", RECORDS_CONFIGMAP, RECORDS_NAMESPACE)
        records = reconcile.plan([wanted], [current] if current else [], prune=False)
        problems += _not_ours(current)
    if problems:
        module.fail_json(msg="nothing was written; %d problem(s):\n- %s" % (len(problems), "\n- ".join(problems)),
                         api_requests=client.requests)
    kept = [ns for ns in namespaces.delete if _holds_workloads(client, ns["metadata"]["name"])]
    for ns in kept:
        namespaces.delete.remove(ns)
        module.warn("namespace %s was created for ServiceEntries that are gone, but now holds Services or "
                    "Deployments: kept" % ns["metadata"]["name"])
    if not module.check_mode:
        if write_store:
            _write_store(client, store, current_store)
        for the_plan in (namespaces, entries, records):  # namespaces exist before their entries
            reconcile.execute(client, the_plan)
    result = dict(_counts(entries, "ServiceEntry"), destination_rules=_counts(entries, "DestinationRule"),
                  vip_store_changed=write_store, dns_records_changed=records.changed,
                  namespaces={"created": [ns["metadata"]["name"] for ns in namespaces.create],
                              "deleted": [ns["metadata"]["name"] for ns in namespaces.delete],
                              "kept": [ns["metadata"]["name"] for ns in kept]})
    result["changed"] = entries.changed or namespaces.changed or records.changed or write_store
    if module._diff:
        result["diff"] = reconcile.diff(namespaces, entries, records)
        if write_store:
            result["diff"].append(reconcile.object_diff(current_store, dict(store_configmap(store), kind="ConfigMap")))
    return result


def _counts(the_plan, kind):
    counts = the_plan.counts(kind)
    counts["kept"] = sum(1 for obj in the_plan.kept if obj["kind"] == kind)
    return counts


def _absent(module, client):
    """Delete everything this step made in the cluster."""
    the_plan = reconcile.Plan()
    the_plan.delete = [dict(obj, kind=kind) for kind in KINDS for obj in client.list(kind, label_selector=OWNED_SELECTOR)]
    the_plan.delete += [obj for obj in (_get(client, "ConfigMap", STORE_NAME, STORE_NAMESPACE),
                                        _get(client, "ConfigMap", RECORDS_CONFIGMAP, RECORDS_NAMESPACE))
                        if obj and is_ours(obj)]
    namespaces = reconcile.Plan()
    namespaces.delete = [dict(ns, kind="Namespace") for ns in client.list("Namespace", label_selector=OWNED_SELECTOR)]
    kept = [ns for ns in namespaces.delete if _holds_workloads(client, ns["metadata"]["name"])]
    namespaces.delete = [ns for ns in namespaces.delete if ns not in kept]
    if not module.check_mode:
        reconcile.execute(client, the_plan)
        reconcile.execute(client, namespaces)
    configmaps = {obj["metadata"]["name"] for obj in the_plan.delete if obj["kind"] == "ConfigMap"}
    result = dict(_counts(the_plan, "ServiceEntry"), destination_rules=_counts(the_plan, "DestinationRule"),
                  vip_store_changed=STORE_NAME in configmaps, dns_records_changed=RECORDS_CONFIGMAP in configmaps,
                  namespaces={"created": [], "deleted": [ns["metadata"]["name"] for ns in namespaces.delete],
                              "kept": [ns["metadata"]["name"] for ns in kept]},
                  changed=the_plan.changed or namespaces.changed)
    if module._diff:
        result["diff"] = reconcile.diff(the_plan, namespaces)
    return result


def main():
    module = k8s_module(
        dict(plan=dict(type="dict"),
             cluster_name=dict(type="str"),
             prune=dict(type="bool", default=True),
             dns_records=dict(type="bool", default=True),
             state=dict(type="str", choices=["present", "absent"], default="present")),
        required_if=[("state", "present", ("plan", "cluster_name"))],
        supports_check_mode=True)
    client = k8s_client(module)
    try:
        result = (_present if module.params["state"] == "present" else _absent)(module, client)
    except KubeError as exc:
        module.fail_json(msg=str(exc), api_requests=client.requests)
    module.exit_json(api_requests=client.requests, **result)


if __name__ == "__main__":
    main()
