#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: service_entry_plan
short_description: Compute the ServiceEntries and VIPs of the whole mesh, once
version_added: 1.0.0
description:
  - Takes what every cluster exports (from M(meshops.multicluster.mesh_services_info)), its gateway
    address and locality, and the fingerprint of the VIP store read in every cluster with one full
    copy per distinct fingerprint (O(vip_stores)), and returns the fleet's plan
    in compact form - every host with its VIP, ports and exporters, every gateway, and per cluster
    the version of its VIP store read, the precondition of writing the allocation there;
    M(meshops.multicluster.service_entry) renders each cluster's ServiceEntries from it.
  - Every exported Service C(<name>.<namespace>) becomes the host C(<name>.<namespace>.global)
    with one VIP, the same in every cluster. Clusters that do not run the Service get one endpoint
    per exporting cluster, its gateway address with every port mapped to the gateway port; a cluster
    that runs it gets its local C(<name>.<namespace>.svc.<cluster domain>) first, so that its gateway
    can route the C(.global) SNI.
  - "Import selection: by default every cluster imports every host. An exported Service's annotation
    C(multicluster.meshops.io/export-to) (C(cluster2,group:eu) - cluster names and inventory groups,
    see O(cluster_groups)) limits the clusters that get its exporter's endpoints; a cluster's
    O(clusters[].import_from_clusters) and O(clusters[].import_from_namespaces) limit what it imports.
    A cluster without any endpoint of a host gets no ServiceEntry for it; an exporting cluster always
    keeps its own. VIPs and the C(global) zone's records stay fleet-wide."
  - "VIPs are stable: a host keeps its VIP while it is exported, new hosts get the lowest free
    address, VIPs of hosts no longer exported are freed. The stores of the highest generation are
    the current allocation; stores of clusters that missed runs are overwritten."
  - "Makes no connection to any cluster. Fails, listing every problem, on bad inventory input
    (cluster names, gateway addresses, VIP range, policy, O(clusters[].import_from_clusters) and
    O(clusters[].import_from_namespaces)) before anything is written."
  - "What a Service's owner controls never fails the plan: a Service with ports a ServiceEntry cannot
    carry, ports that contradict another exporter's, or a malformed export-to annotation is held back -
    its host is left out of C(services), keeps its current VIP (a new one gets none), and every
    M(meshops.multicluster.service_entry) keeps that host's current objects as they are (none created,
    updated or removed) - with a warning per reason naming the cluster, the Service and the value
    (C(held) in RV(plan)). A name in an export-to annotation that is not a cluster or an inventory group
    of the mesh (a cluster removed from the inventory, a typo) is left out with a warning, and the rest of
    the annotation applies: the Service is never exported to more clusters than it names."
options:
  clusters:
    description: Every cluster of the mesh; clusters left out get nothing and are nobody's endpoint.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The cluster's name (C(mesh_cluster_name)).
        type: str
        required: true
      exports:
        description: RV(meshops.multicluster.mesh_services_info#module:exports) of the cluster.
        type: list
        elements: dict
        default: []
      gateway_address:
        description:
          - IP address or host name of the cluster's east-west gateway. Required when the cluster exports
            anything.
        type: str
      gateway_port:
        description: The gateway's mTLS port (the NodePort when the gateway is reached through one).
        type: int
        default: 15443
      locality:
        description: C(region/zone/subzone) of the cluster, set on its endpoints.
        type: str
      vip_store:
        description:
          - RV(meshops.multicluster.mesh_services_info#module:vip_store) of the cluster, with or without
            its allocations.
        type: dict
      import_from_clusters:
        description:
          - Import only what these clusters export (C(mesh_services_import_from_clusters)); empty for every
            cluster. Each must be a cluster of the mesh. The cluster's own exports are always kept.
        type: list
        elements: str
        default: []
      import_from_namespaces:
        description:
          - Import only Services of these namespaces (C(mesh_services_import_from_namespaces)); empty for
            every namespace.
        type: list
        elements: str
        default: []
  cluster_groups:
    description:
      - The inventory groups (C(group_names)) of every cluster of the mesh, read or unavailable, by
        cluster name; C(group:<name>) in an export-to annotation means the clusters of that group.
    type: dict
    default: {}
  vip_stores:
    description:
      - VIP stores read in full (RV(meshops.multicluster.mesh_services_info#module:vip_store) with
        O(meshops.multicluster.mesh_services_info#module:vip_store_allocations=true)) from the clusters
        the filter P(meshops.multicluster.vip_stores_to_read#filter) names - one per distinct copy of the
        current store that O(clusters[].vip_store) does not already hold in full.
      - Fails, nothing written, when a current copy was not given in full (it changed between the reads).
    type: list
    elements: dict
    default: []
  unavailable:
    description:
      - Names of the mesh's clusters that could not be read in this run (failed earlier, unreachable,
        or left out by C(--limit)). While any is listed, no VIP is freed, and the plan tells
        M(meshops.multicluster.service_entry) which ServiceEntries to keep as they are.
    type: list
    elements: str
    default: []
  vip_range:
    description:
      - The range VIPs are taken from. Must lie inside C(240.0.0.0/4) and must not overlap C(240.240.0.0/16),
        where Istio auto-allocates addresses.
    type: str
    default: 240.10.0.0/16
  namespace_mode:
    description:
      - V(replicate) puts each ServiceEntry into the namespace of its Service (created where missing);
        V(single) puts all of them into O(namespace).
    type: str
    choices: [replicate, single]
    default: replicate
  namespace:
    description: The namespace of all ServiceEntries when O(namespace_mode=single).
    type: str
    default: istio-system
  cluster_domain:
    description: The clusters' DNS domain, in the local endpoint C(<name>.<namespace>.svc.<cluster_domain>).
    type: str
    default: cluster.local
  policy:
    description:
      - The traffic policy of the DestinationRule written beside every ServiceEntry (mutual TLS is
        always on). Each value is checked and a bad one named by its role variable.
    type: dict
    default: {}
    suboptions:
      failover:
        description:
          - V(locality) turns on Istio's locality load balancing - endpoints of the client's own locality
            first, then its region, then the rest (C(mesh_services_failover)); V(none) spreads calls over
            every endpoint.
        type: str
        default: locality
      consecutive_errors:
        description: Consecutive errors that eject an endpoint (1 to 1000; C(mesh_services_outlier_consecutive_errors)).
        type: int
        default: 5
      interval:
        description: How often endpoints are checked, a duration such as C(10s) (C(mesh_services_outlier_interval)).
        type: str
        default: 10s
      base_ejection_time:
        description: How long an ejected endpoint stays out, times its ejections (C(mesh_services_outlier_base_ejection_time)).
        type: str
        default: 30s
      max_ejection_percent:
        description: The share of a service's endpoints that may be ejected at once (0 to 100; C(mesh_services_outlier_max_ejection_percent)).
        type: int
        default: 100
attributes:
  check_mode:
    support: full
    description: Computes only; behaves the same in check mode.
  diff_mode:
    support: none
    description: Computes only.
  idempotent:
    support: full
    description: The same input gives the same plan.
seealso:
  - module: meshops.multicluster.mesh_services_info
  - module: meshops.multicluster.service_entry
  - plugin: meshops.multicluster.vip_stores_to_read
    plugin_type: filter
  - plugin: meshops.multicluster.cluster_names
    plugin_type: filter
  - ref: ansible_collections.meshops.multicluster.docsite.services
    description: Exporting and importing Services, failover, VIPs, adding and removing clusters, sizing.
  - ref: ansible_collections.meshops.multicluster.docsite.troubleshooting
    description: A Service held back, and a VIP allocation another run changed.
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
# The services role plans once, on the controller, from what every cluster reported (mesh_services_info);
# clusters that were not read in this run (failed, unreachable, --limit) are unavailable: their exports are kept.
- name: Read the VIP store in full where its current copy differs from the one read so far
  meshops.multicluster.mesh_services_info:
    vip_store_allocations: true
  when: mesh_services_cluster.name in (ansible_play_hosts | map('extract', hostvars, 'mesh_services_cluster')
                                       | meshops.multicluster.vip_stores_to_read)
  register: full_store

- name: Plan the ServiceEntries and VIPs of the whole fleet
  meshops.multicluster.service_entry_plan:
    clusters: "{{ ansible_play_hosts | map('extract', hostvars, 'mesh_services_cluster') | list }}"
    vip_stores: "{{ ansible_play_hosts | map('extract', hostvars) | selectattr('full_store.vip_store', 'defined')
                    | map(attribute='full_store.vip_store') | list }}"
    unavailable: "{{ groups['mesh_clusters'] | difference(ansible_play_hosts) | meshops.multicluster.cluster_names(hostvars) }}"
    cluster_groups: "{{ dict(groups['mesh_clusters'] | meshops.multicluster.cluster_names(hostvars)
                        | zip(groups['mesh_clusters'] | map('extract', hostvars, 'group_names'))) }}"
    vip_range: 240.10.0.0/16
    namespace_mode: replicate
    policy:
      failover: locality
      consecutive_errors: 3
      interval: 5s
      base_ejection_time: 1m
  run_once: true
  register: fleet

- name: Show the VIP of every exported host
  ansible.builtin.debug:
    msg: "{{ (fleet.plan | from_json).allocations }}"
  run_once: true

- name: Write each cluster's share of the plan
  meshops.multicluster.service_entry:
    plan: "{{ fleet.plan }}"
    cluster_name: "{{ mesh_services_cluster.name }}"

# Everything in one namespace, no locality failover, a smaller VIP range.
- name: Plan with single-namespace ServiceEntries
  meshops.multicluster.service_entry_plan:
    clusters:
      - name: east
        gateway_address: 203.0.113.10
        locality: eu-west-1/eu-west-1a
        exports: "{{ hostvars['east'].exports.exports }}"
        vip_store: "{{ hostvars['east'].exports.vip_store }}"
      - name: west
        gateway_address: gw.west.example.com
        gateway_port: 31443
        locality: us-west-2/us-west-2b
        exports: "{{ hostvars['west'].exports.exports }}"
        vip_store: "{{ hostvars['west'].exports.vip_store }}"
        import_from_namespaces: [bar]
    vip_range: 240.20.0.0/20
    namespace_mode: single
    namespace: istio-system
    policy:
      failover: none
  run_once: true
  register: fleet
"""

RETURN = r"""
plan:
  description:
    - The fleet's plan, the input of M(meshops.multicluster.service_entry) (one call per cluster), as
      compact JSON text - Ansible hands text on as it is, where a structure of this size (15 MB at 100
      clusters x 300 Services) would be walked, copied and scrubbed by every task that returns or
      receives it. C(plan | from_json) gives the structure.
    - C(allocations) (host to VIP for the whole mesh, also the C(global) zone's records),
      C(generation) of the allocation (it goes up each time the allocation changes), C(services)
      (each exported host with its VIP, ports and exporting clusters, and C(export_to) - per
      exporter, its checked export-to selectors - only when an exporter limits its importers),
      C(gateways) (per cluster, its gateway address, port and locality), C(selection) (C(groups) -
      the members of the groups the selectors name; C(import_from) - per cluster that limits what it
      imports, its C(clusters) and C(namespaces)), C(layout) (namespace mode, namespace, cluster
      domain), C(policy) (O(policy), checked), C(unavailable) (O(unavailable)), C(held) (host to the
      reasons it is held back - see the description) and C(clusters) (per cluster,
      C(vip_store.resource_version) - the resourceVersion of its VIP store as read, the precondition of
      writing C(allocations) and C(generation) there; the allocation is not repeated per cluster, so
      the plan grows with the hosts plus the clusters, not with their product).
  returned: success
  type: str
  sample: >-
    {"allocations":{"httpbin.bar.global":"240.10.0.1"},"generation":1,"services":[{"host":"httpbin.bar.global",
    "vip":"240.10.0.1","name":"httpbin","namespace":"bar","clusters":["c1"],"ports":[{"name":"http","number":8000,
    "protocol":"HTTP"}],"export_to":{"c1":["c2","group:eu"]}}],"gateways":{"c1":{"address":"203.0.113.10","port":15443,
    "locality":"eu-west-1/a"}},"selection":{"groups":{"eu":["c3","c4"]},"import_from":{"c4":{"namespaces":["bar"]}}},
    "layout":{"namespace_mode":"replicate","namespace":"istio-system","cluster_domain":"cluster.local"},
    "policy":{"failover":"locality","consecutive_errors":5,"interval":"10s","base_ejection_time":"30s",
    "max_ejection_percent":100},"unavailable":[],"held":{},"clusters":{"c1":{"vip_store":{"resource_version":"4711"}}}}
"""

import gc

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import fail_with
from ansible_collections.meshops.multicluster.plugins.module_utils._services.plan import (
    OUTLIER_DEFAULTS, plan_fleet, refused, to_text, traffic_policy)
from ansible_collections.meshops.multicluster.plugins.module_utils._services.vips import DEFAULT_RANGE
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import GATEWAY_PORT, ISTIO_NAMESPACE

CLUSTER_SPEC = dict(
    name=dict(type="str", required=True),
    exports=dict(type="list", elements="dict", default=[]),
    gateway_address=dict(type="str"),
    gateway_port=dict(type="int", default=GATEWAY_PORT),
    locality=dict(type="str"),
    vip_store=dict(type="dict"),
    import_from_clusters=dict(type="list", elements="str", default=[]),
    import_from_namespaces=dict(type="list", elements="str", default=[]),
)


def main():
    # A short-lived process that builds a large, acyclic structure: the cyclic garbage collector would
    # only rescan it again and again.
    gc.disable()
    module = AnsibleModule(
        argument_spec=dict(
            clusters=dict(type="list", elements="dict", required=True, options=CLUSTER_SPEC),
            vip_range=dict(type="str", default=DEFAULT_RANGE),
            namespace_mode=dict(type="str", choices=["replicate", "single"], default="replicate"),
            namespace=dict(type="str", default=ISTIO_NAMESPACE),
            cluster_domain=dict(type="str", default="cluster.local"),
            unavailable=dict(type="list", elements="str", default=[]),
            vip_stores=dict(type="list", elements="dict", default=[]),
            cluster_groups=dict(type="dict", default={}),
            policy=dict(type="dict", default={}, options=dict(
                failover=dict(type="str", default="locality"),
                consecutive_errors=dict(type="int", default=OUTLIER_DEFAULTS["consecutive_errors"]),
                interval=dict(type="str", default=OUTLIER_DEFAULTS["interval"]),
                base_ejection_time=dict(type="str", default=OUTLIER_DEFAULTS["base_ejection_time"]),
                max_ejection_percent=dict(type="int", default=OUTLIER_DEFAULTS["max_ejection_percent"]))),
        ),
        supports_check_mode=True)
    params = module.params
    try:
        result = plan_fleet(params["clusters"], vip_range=params["vip_range"], namespace_mode=params["namespace_mode"],
                            namespace=params["namespace"], cluster_domain=params["cluster_domain"],
                            unavailable=params["unavailable"], policy=traffic_policy(**params["policy"]),
                            cluster_groups=params["cluster_groups"], vip_stores=params["vip_stores"])
    except MeshError as exc:
        fail_with(module, refused(exc))
    for warning in result.pop("warnings"):
        module.warn(warning)
    module.exit_json(changed=False, plan=to_text(result))


if __name__ == "__main__":
    main()
