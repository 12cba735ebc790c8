#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_gateway_info
short_description: Wait for a cluster's control plane and find the address of its east-west gateway
version_added: 1.0.0
description:
  - Waits until the given Deployments are Available and the gateway Service has an address.
  - The address is found as Admiral does it, in this order, the load balancer IP, the load balancer
    hostname, an external IP of the Service, a Node's ExternalIP with the NodePort of port 15443.
  - O(address_override) wins over discovery (a gateway behind NAT or a DNS name of its own).
  - Fails after O(timeout) seconds naming the cluster and what is missing.
options:
  service:
    description: Name of the gateway Service.
    type: str
    default: istio-eastwestgateway
  deployments:
    description:
      - Deployments in O(namespace) that must be Available before the address counts, e.g. the
        gateway's and its revision's istiod (C(istiod-<revision>)).
    type: list
    elements: str
    default: [istio-eastwestgateway]
  timeout:
    description: Seconds to wait for readiness and an address.
    type: int
    default: 120
  address_override:
    description: Use this address (IP or hostname) instead of discovering one.
    type: str
    default: ""
  cluster_name:
    description: Name of the cluster, for messages.
    type: str
    default: this cluster
extends_documentation_fragment:
  - meshops.multicluster.k8s_auth
  - meshops.multicluster.mesh.namespace
  - meshops.multicluster.attributes.read_only
seealso:
  - module: meshops.multicluster.mesh_services_info
  - module: meshops.multicluster.mesh_check
  - module: meshops.multicluster.helm_release_info
  - ref: ansible_collections.meshops.multicluster.docsite.troubleshooting
    description: No gateway address - load balancers, NodePorts and the address override.
  - ref: ansible_collections.meshops.multicluster.docsite.variables
    description: C(mesh_gateway_address_override) and the control_plane role's variables.
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
# What the control_plane role does after helm: wait for istiod and the gateway, remember the address.
# In a play on the hosts of group mesh_clusters with connection: local. module_defaults on the block
# connect every module of group meshops.multicluster.k8s to this host's cluster.
- name: Gateway addresses of the fleet
  module_defaults:
    group/meshops.multicluster.k8s:
      kubeconfig: "{{ mesh_kubeconfig | default(omit) }}"
      context: "{{ mesh_context | default(omit) }}"
  block:
    - name: Wait for istiod and the gateway, and find the gateway's address
      meshops.multicluster.mesh_gateway_info:
        cluster_name: "{{ mesh_cluster_name | default(inventory_hostname) }}"
        namespace: istio-system
        service: istio-eastwestgateway
        deployments: [istiod-1-31-0, istio-eastwestgateway]
        timeout: 300
        address_override: "{{ mesh_gateway_address_override | default('') }}"
      register: gateway

    - name: Remember the address for the ServiceEntries of the other clusters
      ansible.builtin.set_fact:
        mesh_gateway_address: "{{ gateway.address }}"
        mesh_gateway_port: "{{ gateway.port }}"

    - name: Show where each gateway is reached
      ansible.builtin.debug:
        msg: "{{ gateway.address }}:{{ gateway.port }} ({{ gateway.source }}, after {{ gateway.waited }} s)"

# A gateway behind NAT: the address the other clusters use is set, not discovered.
- name: Gateway behind NAT
  meshops.multicluster.mesh_gateway_info:
    cluster_name: onprem-1
    address_override: gw.onprem-1.example.com
    timeout: 60
  register: gateway
"""

RETURN = r"""
address:
  description: IP or hostname other clusters use to reach the gateway.
  returned: success
  type: str
  sample: 203.0.113.10
port:
  description: Port other clusters connect to (15443, or the NodePort of 15443).
  returned: success
  type: int
  sample: 15443
source:
  description:
    - Where the address came from - C(load balancer IP), C(load balancer hostname), C(Service externalIP), C(node ExternalIP
      and NodePort) or C(mesh_gateway_address_override).
  returned: success
  type: str
  sample: load balancer IP
waited:
  description: Seconds spent waiting.
  returned: always
  type: float
  sample: 12.4
"""

from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.gateway import resolve_gateway
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.deployments import deployments_waiting
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import fail_with, k8s_client, k8s_module
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import GATEWAY, ISTIO_NAMESPACE
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.waiter import wait

POLL_SECONDS = 2


def main():
    module = k8s_module(dict(
        namespace=dict(type="str", default=ISTIO_NAMESPACE),
        service=dict(type="str", default=GATEWAY),
        deployments=dict(type="list", elements="str", default=[GATEWAY]),
        timeout=dict(type="int", default=120),
        address_override=dict(type="str", default=""),
        cluster_name=dict(type="str", default="this cluster"),
    ), supports_check_mode=True)
    p = module.params
    client = k8s_client(module)
    found = {}

    def waiting():
        found.clear()
        why = deployments_waiting(client, [(p["namespace"], name) for name in p["deployments"]])
        gateway, problem = resolve_gateway(client, p["namespace"], p["service"], p["address_override"])
        found.update(gateway or {})
        return why + ([problem] if problem else [])

    try:
        left, waited = wait(waiting, p["timeout"], POLL_SECONDS)
    except MeshError as exc:
        fail_with(module, exc, where=p["cluster_name"])
    if left:
        module.fail_json(msg="cluster %s: after %ds, %s. Fix the cluster's load balancer, or set "
                             "mesh_gateway_address_override for it." % (p["cluster_name"], p["timeout"], "; ".join(left)),
                         waited=round(waited, 1))
    module.exit_json(changed=False, waited=round(waited, 1), **found)


if __name__ == "__main__":
    main()
