#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_services_info
short_description: Read the Services one cluster exports to the mesh, and its copy of the VIP store
version_added: 1.0.0
description:
  - Lists the cluster's Services once and returns those it exports to the other clusters of the
    mesh, with their ports and the ServiceEntry protocol of each port.
  - A Service is exported when it carries the label O(export_label) with value C("true"), or is
    named in O(exported). Its annotation C(multicluster.meshops.io/export-to), the clusters that
    import it, is returned as written; M(meshops.multicluster.service_entry_plan) checks it against
    the inventory.
  - Also reads the cluster's copy of the VIP store (ConfigMap C(meshops-vips) in O(namespace)) and
    returns its generation, resourceVersion and fingerprint, the input of
    M(meshops.multicluster.service_entry_plan) - and its allocations with O(vip_store_allocations).
  - Fails, naming each one, on a port without a name or without a protocol Istio can route
    through the gateway (from C(appProtocol), else the port name prefix such as C(http-), C(grpc-),
    C(tcp-), as Istio derives it; UDP and SCTP ports cannot be exported).
options:
  exported:
    description:
      - Services exported in addition to the labelled ones, as C(<namespace>/<name>).
      - A named Service that does not exist is reported in RV(missing) and as a warning.
    type: list
    elements: str
    default: []
  export_label:
    description:
      - The label that marks a Service as exported when its value is C("true").
    type: str
    default: multicluster.meshops.io/export
  vip_store_allocations:
    description:
      - Return the allocations of the VIP store too. The services role asks one cluster for them, and
        a second one only when the copies disagree, so that what travels to the plan grows with the
        hosts, not with clusters x hosts.
    type: bool
    default: false
  gateway_service:
    description:
      - Also find the address of this east-west gateway Service when the cluster exports something
        (RV(gateway)); the lookup of M(meshops.multicluster.mesh_gateway_info), without waiting.
    type: str
  address_override:
    description:
      - The gateway address the inventory sets for this cluster (C(mesh_gateway_address_override)), port 15443;
        wins over discovery, and the Service is not read.
    type: str
    default: ""
  namespace:
    description: The control plane's namespace, where the gateway Service and the VIP store are.
    type: str
    default: istio-system
    aliases: [gateway_namespace]
extends_documentation_fragment:
  - meshops.multicluster.k8s_auth
  - meshops.multicluster.attributes.read_only
seealso:
  - module: meshops.multicluster.service_entry_plan
  - module: meshops.multicluster.service_entry
  - module: meshops.multicluster.mesh_gateway_info
  - plugin: meshops.multicluster.vip_stores_to_read
    plugin_type: filter
  - ref: ansible_collections.meshops.multicluster.docsite.services
    description: Exporting a Service, the export-to annotation, VIPs and the cost of a run.
  - ref: ansible_collections.meshops.multicluster.docsite.troubleshooting
    description: A Service held back because of its ports or annotation.
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
# What the services role does on every cluster before planning the fleet once.
# In a play on the hosts of group mesh_clusters with connection: local. module_defaults on the block
# connect every module of group meshops.multicluster.k8s to this host's cluster.
- name: What every cluster exports
  module_defaults:
    group/meshops.multicluster.k8s:
      kubeconfig: "{{ mesh_kubeconfig | default(omit) }}"
      context: "{{ mesh_context | default(omit) }}"
  block:
    - name: Read the exported Services, the VIP store's fingerprint and the gateway address
      meshops.multicluster.mesh_services_info:
        exported: [bar/httpbin]
        export_label: multicluster.meshops.io/export
        gateway_service: istio-eastwestgateway
        address_override: "{{ mesh_gateway_address_override | default('') }}"
        # the allocations travel once, from the first cluster; the others send the fingerprint only
        vip_store_allocations: "{{ inventory_hostname == ansible_play_hosts[0] }}"
      register: exports

    - name: Warn about Services the fleet plan will hold back
      ansible.builtin.debug:
        msg: "{{ item.namespace }}/{{ item.name }}: {{ item.problems | join('; ') }}"
      loop: "{{ exports.exports | selectattr('problems', 'defined') | list }}"
      loop_control:
        label: "{{ item.namespace }}/{{ item.name }}"

    - name: Describe this cluster for the fleet plan
      ansible.builtin.set_fact:
        mesh_services_cluster: "{{ {'name': inventory_hostname, 'exports': exports.exports, 'vip_store': exports.vip_store}
                                   | combine({'gateway_address': exports.gateway.address, 'gateway_port': exports.gateway.port}
                                             if exports.gateway else {}) }}"

# Only the exports: Services labelled team.example.com/mesh-export=true, and two named ones.
- name: Services exported with a custom label
  meshops.multicluster.mesh_services_info:
    export_label: team.example.com/mesh-export
    exported: [bar/httpbin, shop/cart]
  register: exports

- name: Fail on Services named in the inventory that do not exist
  ansible.builtin.assert:
    that: exports.missing | length == 0
    fail_msg: "no such Service: {{ exports.missing | join(', ') }}"
"""

RETURN = r"""
exports:
  description:
    - The exported Services, sorted by namespace and name.
    - C(export_to) only for a Service with the annotation C(multicluster.meshops.io/export-to), its value.
    - C(problems) only for a Service with ports a ServiceEntry cannot carry (no name, no protocol Istio
      routes through the gateway) - one message per port. Such a Service does not fail this module; the
      fleet plan holds it back (M(meshops.multicluster.service_entry_plan)).
  returned: success
  type: list
  elements: dict
  sample:
    - name: httpbin
      namespace: bar
      ports: [{name: http, number: 8000, protocol: HTTP}]
      export_to: "cluster2,group:eu"
    - name: pay
      namespace: fx
      ports: [{name: grpc-api, number: 9090, protocol: GRPC}]
missing:
  description: Entries of O(exported) with no such Service in the cluster.
  returned: success
  type: list
  elements: str
  sample: [shop/cart]
vip_store:
  description:
    - This cluster's copy of the VIP store (generation 0 when there is none) - C(allocations) only with
      O(vip_store_allocations) - and C(digest), the fingerprint of its allocations.
  returned: success
  type: dict
  sample: {allocations: {httpbin.bar.global: 240.10.0.1}, generation: 3, resource_version: "4711",
           digest: 0d1f4bc2a5a8c3e97d6f0b1a2c3d4e5f}
gateway:
  description:
    - Address, port and source of the gateway's address (O(address_override) when set); null without
      O(gateway_service), when the cluster exports nothing, or when the Service has no address yet.
  returned: success
  type: dict
  sample: {address: 203.0.113.10, port: 15443, source: load balancer IP}
api_requests:
  description: Read and write requests this run made to the API server.
  returned: always
  type: dict
  sample: {read: 2, write: 0}
"""

from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.gateway import resolve_gateway
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import fail_with, k8s_client, k8s_module
from ansible_collections.meshops.multicluster.plugins.module_utils._services.exports import (
    EXPORT_LABEL, parse_exported, select_exports)
from ansible_collections.meshops.multicluster.plugins.module_utils._services.vips import store_from_configmap, store_summary
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import ISTIO_NAMESPACE, VIP_STORE


def main():
    module = k8s_module(
        dict(exported=dict(type="list", elements="str", default=[]),
             export_label=dict(type="str", default=EXPORT_LABEL),
             vip_store_allocations=dict(type="bool", default=False),
             gateway_service=dict(type="str"),
             address_override=dict(type="str", default=""),
             namespace=dict(type="str", default=ISTIO_NAMESPACE, aliases=["gateway_namespace"])),
        supports_check_mode=True)
    exported, label = module.params["exported"], module.params["export_label"]
    try:
        parse_exported(exported)
    except MeshError as exc:
        fail_with(module, exc)
    client = k8s_client(module)
    try:
        # One list: all Services when some are named in the inventory, else only the labelled ones.
        services = client.list("Service", label_selector=None if exported else "%s=true" % label)
        exports, missing = select_exports(services, exported, label)
        store = store_from_configmap(client.get("ConfigMap", VIP_STORE, module.params["namespace"]))
        if not module.params["vip_store_allocations"]:
            store = store_summary(store)
        gateway = None
        if exports and module.params["gateway_service"]:
            gateway = resolve_gateway(client, module.params["namespace"], module.params["gateway_service"],
                                      module.params["address_override"])[0]
    except MeshError as exc:
        fail_with(module, exc, client)
    for name in missing:
        module.warn("mesh_services_exported names %s, but the cluster has no such Service: not exported" % name)
    module.exit_json(changed=False, exports=exports, missing=missing, vip_store=store, gateway=gateway,
                     api_requests=client.requests)


if __name__ == "__main__":
    main()
