#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_preflight
short_description: Check the inventory of the whole fleet before any cluster is touched
version_added: 1.0.0
description:
  - Runs once, on the controller, with the description of every cluster of the play.
  - Fails, listing every problem with the host, the variable, its value and what is expected, when
    a cluster name or network is not a DNS-1123 label, two clusters share a name, C(mesh_id) or
    C(mesh_trust_domain) differ between clusters, or a per-cluster values override sets what must be
    identical fleet-wide.
  - Warns when the control planes of the fleet would not be identical (chart version or shared values).
  - Warns when C(mesh_istio_version), or with O(connections) a cluster's Kubernetes version, is outside
    the versions the collection supports (see the C(variables) guide, Supported versions); goes on.
  - Then, with O(connections), asks each cluster who it is - the uid of its C(kube-system) namespace,
    as Istio and Submariner identify a cluster - and fails naming the hosts and the uid when two
    inventory hosts are the same cluster, or when E(K8S_AUTH_HOST) would send a play of more than
    one host to one API server. A cluster that cannot be read is returned in RV(unidentified).
    Only reads (C(get namespaces kube-system), the API server's C(/version)); nothing is written.
  - Without O(connections), talks to no cluster.
options:
  clusters:
    description:
      - One entry per cluster, as the C(preflight) role builds it from the inventory.
    type: list
    elements: dict
    required: true
  connections:
    description:
      - How to reach each host of the play (every host, also those of later batches of a rollout),
        as the playbooks' C(module_defaults) reach it. The E(K8S_AUTH_*) environment variables fill
        what is not set, as for every module of the collection.
    type: list
    elements: dict
    default: []
    suboptions:
      host:
        description: The inventory host.
        type: str
        required: true
      kubeconfig:
        description: Its kubeconfig (C(mesh_kubeconfig)).
        type: path
      context:
        description: Its kubeconfig context (C(mesh_context)).
        type: str
attributes:
  check_mode:
    support: full
    description: Reads only, writes nothing; the same in check mode.
  diff_mode:
    support: none
    description: Nothing to show.
  idempotent:
    support: full
    description: Never changes anything.
seealso:
  - module: meshops.multicluster.mesh_permissions
  - module: meshops.multicluster.service_entry_plan
  - plugin: meshops.multicluster.kubeconfig_contexts
    plugin_type: inventory
  - ref: ansible_collections.meshops.multicluster.docsite.variables
    description: The inventory variables it checks (preflight role) and what each expects.
  - ref: ansible_collections.meshops.multicluster.docsite.quickstart
    description: Describing the fleet in an inventory.
  - ref: ansible_collections.meshops.multicluster.docsite.troubleshooting
    description: Refused input - one cluster twice, credentials, strict values.
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
# What the preflight role does first: the whole fleet is checked once, before a canary or a batch is touched.
# In a play on the hosts of group mesh_clusters with connection: local.
- name: Check the fleet before any cluster is touched
  block:
    - name: Describe this cluster for the fleet check
      ansible.builtin.set_fact:
        mesh_cluster:
          host: "{{ inventory_hostname }}"
          name: "{{ mesh_cluster_name | default(inventory_hostname) }}"
          network: "{{ mesh_network | default(inventory_hostname) }}"
          mesh_id: mesh1
          trust_domain: cluster.local
          chart_version: 1.31.0
          shared_values: {}
          values_override: {}
          istio_namespace: istio-system
          gateway_name: istio-eastwestgateway

    - name: Check the inventory, then that every host is a cluster of its own
      meshops.multicluster.mesh_preflight:
        clusters: "{{ ansible_play_hosts_all | map('extract', hostvars, 'mesh_cluster') | list }}"
        connections:
          - host: east
            kubeconfig: ~/.kube/fleet.yaml
            context: prod-east
          - host: west
            kubeconfig: ~/.kube/fleet.yaml
            context: prod-west
      run_once: true
      delegate_to: localhost
      register: fleet

    - name: Stop at a cluster that did not say who it is, before any write to it
      ansible.builtin.fail:
        msg: "{{ fleet.unidentified[inventory_hostname] }}"
      when: inventory_hostname in fleet.unidentified

    - name: Show who each cluster is
      ansible.builtin.debug:
        msg: "{{ inventory_hostname }} is cluster {{ fleet.cluster_uids[inventory_hostname] }}"

# The inventory alone, talking to no cluster (for example in CI, on a pull request that changes group_vars).
- name: Check the inventory only
  meshops.multicluster.mesh_preflight:
    clusters: "{{ ansible_play_hosts_all | map('extract', hostvars, 'mesh_cluster') | list }}"
  run_once: true
  delegate_to: localhost
  register: fleet

- name: Fail unless every control plane is the same
  ansible.builtin.assert:
    that: fleet.identical_control_planes
    fail_msg: "clusters with different control planes: {{ fleet.control_plane_identities.values() | list }}"
  run_once: true
"""

RETURN = r"""
clusters:
  description: Cluster names, in inventory order.
  returned: success
  type: list
  elements: str
  sample: [east, west, onprem-1]
identical_control_planes:
  description: Whether every cluster gets the same chart version and shared values.
  returned: success
  type: bool
  sample: true
control_plane_identities:
  description: Fingerprint of (chart version, shared values) mapped to the clusters that have it.
  returned: success
  type: dict
  sample: {7f3c2a91d04be815: [east, west, onprem-1]}
cluster_uids:
  description: Each host of O(connections) mapped to its cluster's identity, the uid of namespace C(kube-system).
  returned: success
  type: dict
  sample: {east: 0b4e2b8c-55d5-4a8a-9d0c-2f6f1c7e8a11, west: 6a1d93f0-2c47-4e1b-b8a5-91d7c3e05f62}
unidentified:
  description:
    - Each host of O(connections) whose cluster could not be read (unreachable, credentials), mapped to
      the message saying why. Such a host cannot be compared with the others; the C(preflight) role
      fails it alone, before any write to it.
  returned: success
  type: dict
  sample:
    onprem-1: >-
      onprem-1: cannot read who the cluster is (namespace kube-system), nothing was written to it:
      cannot connect to https://10.20.0.5:6443: connection refused
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshops.multicluster.plugins.module_utils._preflight.inventory import (
    check_fleet, check_identities, check_single_api_server, read_clusters)
from ansible_collections.meshops.multicluster.plugins.module_utils._preflight.versions import (
    istio_warnings, kubernetes_warnings)
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KubeClient
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import fail_with, require_client_libraries

CONNECTION = dict(host=dict(type="str", required=True), kubeconfig=dict(type="path"), context=dict(type="str"))


def identify(module, connections):
    """({host: kube-system uid}, {host: Kubernetes version}, {host: why unknown}), every host read a
    cluster of its own, or FleetError."""
    require_client_libraries(module)
    check_single_api_server([c["host"] for c in connections], os.environ)
    uids, versions, unidentified = read_clusters(connections, lambda c: KubeClient({"kubeconfig": c["kubeconfig"],
                                                                                    "context": c["context"]}))
    check_identities(uids)
    return uids, versions, unidentified


def main():
    module = AnsibleModule(argument_spec=dict(clusters=dict(type="list", elements="dict", required=True),
                                              connections=dict(type="list", elements="dict", default=[],
                                                               options=CONNECTION)),
                           supports_check_mode=True)
    try:
        summary = check_fleet(module.params["clusters"])
        summary["cluster_uids"], versions, summary["unidentified"] = identify(module, module.params["connections"]) \
            if module.params["connections"] else ({}, {}, {})
    except MeshError as exc:
        fail_with(module, exc)
    for warning in istio_warnings(module.params["clusters"]) + kubernetes_warnings(versions):
        module.warn(warning)
    if not summary["identical_control_planes"]:
        groups = "; ".join(", ".join(names) for names in summary["control_plane_identities"].values())
        module.warn("the control planes of the fleet are not identical (chart version or shared values differ "
                    "between these groups of clusters: %s)" % groups)
    module.exit_json(changed=False, **summary)


if __name__ == "__main__":
    main()
