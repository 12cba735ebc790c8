#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_resources
short_description: Keep a set of Kubernetes objects owned by meshops.multicluster in one cluster
version_added: 1.0.0
description:
  - Applies a whole set of objects in one call with server-side apply (field manager
    C(meshops.multicluster)), labelling each with C(app.kubernetes.io/managed-by=meshops.multicluster).
  - Lists each kind once, writes only the objects that differ, and with O(prune_label) deletes the
    objects of that set which are no longer desired.
  - An existing object of the same name that does not carry the collection's label is never
    modified; the module fails naming it.
  - Used by the roles for the control plane's C(*.global) Gateway and DestinationRule, the
    C(istio-system) namespace and the DNS zone server.
options:
  objects:
    description:
      - The desired objects. Each needs C(kind) and C(metadata.name) (and C(metadata.namespace) for
        namespaced kinds). Supported kinds are Namespace, ConfigMap, Service, ServiceAccount, ClusterRole,
        ClusterRoleBinding, Role, RoleBinding, ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
        Deployment, Gateway, DestinationRule and ServiceEntry.
    type: list
    elements: dict
    default: []
  state:
    description:
      - V(present) applies O(objects); V(absent) deletes those of them that exist and are ours.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description:
      - Wait until every Deployment of O(objects) is Available (after applying; in check mode, as it is).
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait with O(wait).
    type: int
    default: 120
  prune_label:
    description:
      - A label C(key=value) that marks this set. It is added to every object; objects of ours
        with this label that are not in O(objects) are deleted.
      - Without it nothing is pruned.
    type: str
  prune_kinds:
    description:
      - The kinds searched for objects to prune; by default the kinds of O(objects). Name a kind the
        set no longer has to remove its last objects.
    type: list
    elements: str
extends_documentation_fragment:
  - meshops.multicluster.k8s_auth
attributes:
  check_mode:
    support: full
    description: Reports what would change; nothing is written.
  diff_mode:
    support: full
    description: Before and after of every changed object (Secret data redacted).
  idempotent:
    support: full
    description: A second run reports no change and makes no write request.
seealso:
  - module: meshops.multicluster.service_entry
  - module: meshops.multicluster.mesh_dns
  - module: kubernetes.core.k8s
  - ref: ansible_collections.meshops.multicluster.docsite.operations
    description: Check mode and diff, and uninstalling what the collection created.
  - ref: ansible_collections.meshops.multicluster.docsite.troubleshooting
    description: Objects owned by someone else, and namespaces of ours that are kept.
  - ref: ansible_collections.meshops.multicluster.docsite.permissions
    description: The objects the rbac playbook keeps with this module.
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
# What the control_plane role does: the *.global routing of the east-west gateway, as one labelled set.
# In a play on the hosts of group mesh_clusters with connection: local. module_defaults on the block
# connect every module of group meshops.multicluster.k8s to this host's cluster.
- name: Route *.global through the east-west gateway
  module_defaults:
    group/meshops.multicluster.k8s:
      kubeconfig: "{{ mesh_kubeconfig | default(omit) }}"
      context: "{{ mesh_context | default(omit) }}"
  block:
    - name: The Gateway of *.global (AUTO_PASSTHROUGH on port 15443); stale objects of the set are pruned
      meshops.multicluster.mesh_resources:
        prune_label: multicluster.meshops.io/component=global-routing
        prune_kinds: [Gateway, DestinationRule]
        objects:
          - kind: Gateway
            metadata: {name: meshops-global, namespace: istio-system}
            spec:
              selector: {istio: eastwestgateway}
              servers:
                - port: {number: 15443, name: tls, protocol: TLS}
                  tls: {mode: AUTO_PASSTHROUGH}
                  hosts: ["*.global"]
      register: routing

    - name: Say what changed
      ansible.builtin.debug:
        msg: "created {{ routing.created }}, updated {{ routing.updated }}, pruned {{ routing.deleted }}, {{ routing.unchanged }} unchanged"

# A Deployment and its Service, waited for; the Service's ClusterIP is read from the result.
- name: Zone server of the global zone
  meshops.multicluster.mesh_resources:
    objects: "{{ lookup('ansible.builtin.template', 'zone-server.yml.j2') | from_yaml }}"
    wait: true
    wait_timeout: 180
  register: zone_server

- name: Remember the zone server's address
  ansible.builtin.set_fact:
    zone_server_ip: "{{ (zone_server.resources | select | selectattr('kind', 'eq', 'Service') | first).spec.clusterIP }}"

# Review the change first: nothing is written, the diff shows every object before and after.
- name: Preview a namespace label change
  meshops.multicluster.mesh_resources:
    objects:
      - kind: Namespace
        metadata:
          name: istio-system
          labels: {topology.istio.io/network: east}
  check_mode: true
  diff: true

- name: Uninstall - delete the routing objects (only those carrying the collection's label)
  meshops.multicluster.mesh_resources:
    state: absent
    objects:
      - {kind: Gateway, metadata: {name: meshops-global, namespace: istio-system}}
"""

RETURN = r"""
created:
  description: C(Kind namespace/name) of each object created.
  returned: always
  type: list
  elements: str
  sample: [Gateway istio-system/meshops-global]
updated:
  description: Objects whose desired fields differed and were re-applied.
  returned: always
  type: list
  elements: str
  sample: [Namespace istio-system]
deleted:
  description: Objects deleted (state absent, or pruned).
  returned: always
  type: list
  elements: str
  sample: [DestinationRule istio-system/meshops-global]
unchanged:
  description: Number of objects already as desired.
  returned: always
  type: int
  sample: 3
resources:
  description:
    - The desired objects as they are in the cluster (after the write), in the order of O(objects),
      for example to read a Service's C(spec.clusterIP). Null for an object not (yet) in the cluster.
  returned: when O(state=present)
  type: list
  elements: dict
  sample:
    - apiVersion: v1
      kind: Service
      metadata:
        name: istiocoredns
        namespace: istio-system
        labels: {app.kubernetes.io/managed-by: meshops.multicluster}
        resourceVersion: "48213"
      spec:
        clusterIP: 10.96.143.20
        ports: [{name: dns, port: 53, protocol: UDP, targetPort: 53}]
        selector: {app: istiocoredns}
api_requests:
  description: Read and write requests this run made to the API server.
  returned: always
  type: dict
  sample: {read: 2, write: 0}
"""

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import fail_with, k8s_client, k8s_module
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.resources import ObjectSet


def main():
    module = k8s_module(
        dict(objects=dict(type="list", elements="dict", default=[]),
             state=dict(type="str", choices=["present", "absent"], default="present"),
             prune_label=dict(type="str"),
             prune_kinds=dict(type="list", elements="str"),
             wait=dict(type="bool", default=False),
             wait_timeout=dict(type="int", default=120)),
        supports_check_mode=True)
    params = module.params
    try:
        objects = ObjectSet(params["objects"], params["prune_label"], params["prune_kinds"])
    except MeshError as exc:
        fail_with(module, exc)
    client = k8s_client(module)
    keep = objects.present if params["state"] == "present" else objects.absent
    try:
        result = keep(client, wait_timeout=params["wait_timeout"] if params["wait"] else None,
                      diff=module._diff)
    except MeshError as exc:
        fail_with(module, exc, client)
    module.exit_json(api_requests=client.requests, **result)


if __name__ == "__main__":
    main()
