#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: service_entry
short_description: Keep one cluster's whole set of mesh ServiceEntries and DestinationRules, VIP store and C(.global) DNS records
version_added: 1.0.0
description:
  - One call per cluster takes the fleet's plan from M(meshops.multicluster.service_entry_plan),
    renders this cluster's whole desired set of ServiceEntries from it (one per host the cluster
    imports under the plan's C(selection), every host by default), each with a DestinationRule
    of the same name (Istio mutual TLS, outlier detection, locality failover as the plan's
    C(policy) says), lists the cluster's ServiceEntries, DestinationRules and Namespaces once each,
    applies (server-side apply, field manager C(meshops.multicluster)) only the objects that
    differ, and deletes the objects of this step that are no longer desired.
  - Everything it writes is labelled C(app.kubernetes.io/managed-by=meshops.multicluster) and
    C(multicluster.meshops.io/component=services); only objects with both labels are ever updated
    or pruned.
  - Namespaces of the entries are created when missing (labelled as ours) and deleted again when
    no entry needs them, unless they hold Services or Deployments. Namespaces made by others are
    used as they are. A namespace still being deleted is not deleted again; one needed again is
    waited for (O(namespace_timeout)) and created anew.
  - Writes the cluster's copy of the VIP store (ConfigMap C(meshops-vips) in O(istio_namespace)) first, only
    if the store still has the resourceVersion the plan was computed from; otherwise another run
    changed the allocation meanwhile and the module fails before writing anything.
  - With O(dns_records), keeps ConfigMap C(istiocoredns-records) in O(istio_namespace) (key C(global.hosts)),
    served by the C(global) zone server, in step with the VIPs.
  - Entries exported from a cluster the plan lists as unavailable (it could not be read) are left
    exactly as they are, neither updated nor pruned, with their namespaces.
  - Hosts the plan holds back (C(held), a bad value of their Service's owner) are left exactly as
    they are, like those of an unavailable cluster - their objects are neither created, updated nor
    pruned.
  - "A ServiceEntry of someone else that holds the name, a host or the VIP of one of ours, or a
    DestinationRule of someone else with the name of one of ours, skips that one host in this cluster:
    theirs is untouched, ours (if any) is left as it is, and a warning names the cluster, their object
    and the value; every other host converges. It warns about a DestinationRule of someone else for one
    of the hosts (Istio applies only one rule per host)."
  - Everything else is checked before the first write, and the module fails on it, writing nothing
    (the control plane's namespace missing, the VIP store or the records ConfigMap not ours, a
    concurrent run).
options:
  plan:
    description:
      - The fleet's plan, RV(meshops.multicluster.service_entry_plan#module:plan) - JSON text, or the same
        plan as a dictionary (its C(services), C(gateways), C(selection) and C(layout) are used); this
        cluster's ServiceEntries are rendered from it. Required with O(state=present).
    type: raw
  cluster_name:
    description: This cluster's name in O(plan). Required with O(state=present).
    type: str
  prune:
    description:
      - Delete this step's ServiceEntries (and namespaces) that are not in the plan for this cluster,
        including those of hosts it no longer imports.
    type: bool
    default: true
  dns_records:
    description: Keep ConfigMap C(istiocoredns-records) (host to VIP, for the C(global) zone server) in step with the plan.
    type: bool
    default: true
  istio_namespace:
    description: The control plane's namespace, where the VIP store and the zone server's records live.
    type: str
    default: istio-system
  namespace_timeout:
    description:
      - How long to wait, in seconds, for a namespace that is needed again while it is still being
        deleted (a service exported again, a cluster added back) to be gone before creating it anew.
    type: int
    default: 120
  max_in_flight:
    description:
      - Write requests (applies and deletes) kept in flight at once to this cluster's API server, over
        as many reused connections, 1 to 32. Namespaces are written before the objects that go into
        them, the VIP store first of all.
      - A cluster far away (tens of milliseconds per request) writes its set up to this many times
        faster; an API server that is overloaded or limits this identity (API Priority and Fairness)
        answers 429, and the request is sent again after its C(Retry-After).
      - When a write fails, no further write starts; the failure names the first error and returns
        what was written (C(written)) and what failed (C(failed)). A re-run writes what is missing.
    type: int
    default: 8
  state:
    description:
      - V(absent) deletes all of this step's ServiceEntries and namespaces, the VIP store and the DNS
        records of the cluster; the other options are ignored.
      - A namespace this step created is deleted only while it holds nothing of anyone else, of any
        namespaced kind the API server lists; otherwise it is kept, with a warning naming what is in it,
        and our labels are removed from it (or stay, when this identity may not list every kind).
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
seealso:
  - module: meshops.multicluster.service_entry_plan
  - module: meshops.multicluster.mesh_services_info
  - module: meshops.multicluster.mesh_dns
  - module: meshops.multicluster.mesh_check
  - ref: ansible_collections.meshops.multicluster.docsite.services
    description: ServiceEntries with stable VIPs, failover, namespaces, ownership and conflicts.
  - ref: ansible_collections.meshops.multicluster.docsite.dns
    description: The C(global) zone server that serves the records this module keeps.
  - ref: ansible_collections.meshops.multicluster.docsite.troubleshooting
    description: Hosts held back or skipped, kept namespaces, and a VIP allocation changed by another run.
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
# The services role: plan once on the controller, then one call per cluster writes its whole set.
# In a play on the hosts of group mesh_clusters with connection: local. module_defaults on the block
# connect every module of group meshops.multicluster.k8s to this host's cluster.
- name: ServiceEntries of the fleet
  module_defaults:
    group/meshops.multicluster.k8s:
      kubeconfig: "{{ mesh_kubeconfig | default(omit) }}"
      context: "{{ mesh_context | default(omit) }}"
  block:
    # ... mesh_services_info on every cluster, described as mesh_services_cluster (see its examples)
    - name: Plan the ServiceEntries and VIPs of the whole fleet
      meshops.multicluster.service_entry_plan:
        clusters: "{{ ansible_play_hosts | map('extract', hostvars, 'mesh_services_cluster') | list }}"
      run_once: true
      register: fleet

    - name: Write this cluster's ServiceEntries, DestinationRules, VIP store and .global records
      meshops.multicluster.service_entry:
        plan: "{{ fleet.plan }}"
        cluster_name: "{{ mesh_cluster_name | default(inventory_hostname) }}"
        istio_namespace: istio-system
      register: entries

    - name: Say what changed, and which hosts were skipped because of someone else's objects
      ansible.builtin.debug:
        msg: >-
          ServiceEntries {{ entries.created }} created, {{ entries.updated }} updated, {{ entries.deleted }} deleted,
          {{ entries.unchanged }} unchanged; skipped {{ entries.skipped | list }}; held {{ entries.held | list }}

# Drift check: what a run would write, nothing written (the verify role does this).
- name: Compare this cluster's ServiceEntries with the plan
  meshops.multicluster.service_entry:
    plan: "{{ fleet.plan }}"
    cluster_name: "{{ mesh_cluster_name | default(inventory_hostname) }}"
  check_mode: true
  diff: true
  register: drift

- name: Fail when a cluster drifted from the plan
  ansible.builtin.assert:
    that: not drift.changed
    fail_msg: "{{ drift.created }} missing, {{ drift.updated }} different, {{ drift.deleted }} stale ServiceEntries"

# Add ServiceEntries without removing any (for instance while a cluster is being moved between inventories).
- name: Write without pruning
  meshops.multicluster.service_entry:
    plan: "{{ fleet.plan }}"
    cluster_name: "{{ mesh_cluster_name | default(inventory_hostname) }}"
    prune: false

- name: Uninstall - remove them all, with the VIP store and the records
  meshops.multicluster.service_entry:
    state: absent
"""

RETURN = r"""
created:
  description: Number of ServiceEntries created.
  returned: success
  type: int
  sample: 2
updated:
  description: Number of ServiceEntries re-applied because they differed.
  returned: success
  type: int
  sample: 1
deleted:
  description: Number of ServiceEntries deleted (pruned, or all with O(state=absent)).
  returned: success
  type: int
  sample: 0
unchanged:
  description: Number of ServiceEntries already as desired.
  returned: success
  type: int
  sample: 37
kept:
  description:
    - Number of ServiceEntries left as they are because they come from a cluster the plan lists as unavailable,
      or their host is held back by the plan or skipped here.
  returned: success
  type: int
  sample: 0
held:
  description: The hosts the plan holds back (in every cluster), each with the reasons (the plan's C(held)).
  returned: with O(state=present)
  type: dict
  sample: {pay.fx.global: ["cluster cluster1: Service fx/pay: annotation multicluster.meshops.io/export-to='c2,,': item 2 '' is empty; ..."]}
skipped:
  description: The hosts skipped in this cluster because someone else's object clashes with them, each with the warnings.
  returned: with O(state=present)
  type: dict
  sample: {pay.fx.global: ["ServiceEntry fx/mine is not managed by meshops.multicluster but has host pay.fx.global, ..."]}
destination_rules:
  description: The DestinationRules beside the ServiceEntries, counted like them.
  returned: success
  type: dict
  sample: {created: 1, updated: 0, deleted: 0, unchanged: 4, kept: 0}
namespaces:
  description:
    - Namespaces created and deleted, obsolete ones kept because they hold objects of others (or
      cannot be proven empty), and those awaited because they were still being deleted.
  returned: success
  type: dict
  sample: {created: [bar], deleted: [], kept: [], awaited: []}
vip_store_changed:
  description: Whether the VIP store was (or would be) written or deleted.
  returned: success
  type: bool
  sample: true
dns_records_changed:
  description: Whether the DNS records were (or would be) written or deleted.
  returned: success
  type: bool
  sample: true
api_requests:
  description: Read and write requests this run made to the API server.
  returned: always
  type: dict
  sample: {read: 4, write: 0}
written:
  description:
    - When a write failed part way, the writes made before it stopped, in the order they finished
      (C(apply), C(delete), C(create) or C(replace) and the object).
  returned: failure after some writes
  type: list
  elements: str
  sample: ["replace ConfigMap istio-system/meshops-vips", "apply ServiceEntry bar/httpbin.bar.global"]
failed:
  description: When a write failed part way, each write that failed, with its error.
  returned: failure after some writes
  type: dict
  sample: {"apply ServiceEntry fx/pay.fx.global": "cannot reach the Kubernetes API at https://10.0.0.1:6443: ..."}
"""

import gc

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import fail_with, k8s_client, k8s_module
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import ISTIO_NAMESPACE
from ansible_collections.meshops.multicluster.plugins.module_utils._services.plan import from_text
from ansible_collections.meshops.multicluster.plugins.module_utils._services.writer import Writer
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import MAX_CONNECTIONS
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.reconcile import MAX_IN_FLIGHT


def main():
    # A short-lived process that renders tens of thousands of acyclic objects beside the decoded plan:
    # the cyclic garbage collector would only rescan them (half the render time at 100 clusters).
    gc.disable()
    module = k8s_module(
        dict(plan=dict(type="raw"),
             cluster_name=dict(type="str"),
             prune=dict(type="bool", default=True),
             dns_records=dict(type="bool", default=True),
             istio_namespace=dict(type="str", default=ISTIO_NAMESPACE),
             namespace_timeout=dict(type="int", default=120),
             max_in_flight=dict(type="int", default=MAX_IN_FLIGHT),
             state=dict(type="str", choices=["present", "absent"], default="present")),
        required_if=[("state", "present", ("plan", "cluster_name"))],
        supports_check_mode=True)
    params = module.params
    if not 1 <= params["max_in_flight"] <= MAX_CONNECTIONS:
        module.fail_json(msg="max_in_flight=%r is out of range: expected 1 to %d" % (params["max_in_flight"], MAX_CONNECTIONS))
    client = k8s_client(module)
    writer = Writer(client, params["istio_namespace"], diff=module._diff, warn=module.warn,
                    namespace_timeout=params["namespace_timeout"], max_in_flight=params["max_in_flight"])
    try:
        if params["state"] == "present":
            result = writer.present(from_text(params["plan"]), params["cluster_name"], prune=params["prune"],
                                    dns_records=params["dns_records"])
        else:
            result = writer.absent()
    except MeshError as exc:
        fail_with(module, exc, client)
    module.exit_json(api_requests=client.requests, **result)


if __name__ == "__main__":
    main()
