#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_permissions
short_description: Check that the identity in use may do what the collection's steps need in a cluster
version_added: 1.0.0
description:
  - Asks the API server what the identity may do (SelfSubjectRulesReview, one per namespace of
    the rules) and compares it with the permissions the steps need (docs/permissions.md).
  - Fails before any step writes, naming every missing permission (verb, resource, name,
    namespace) with the step that needs it.
  - Changes nothing; an access review is not a write.
options:
  steps:
    description: The steps to check.
    type: list
    elements: str
    required: true
    choices: [trust, control_plane, dns, services, verify, upgrade, trace]
  options:
    description:
      - Rules some fleets need besides the steps' own; V(replicate_namespaces) when
        C(mesh_services_namespace_mode) is V(replicate), V(sidecar_dns_proxy) when C(mesh_dns_mode)
        is V(sidecar_proxy), V(dns_configmap_create) for kube-dns, V(revocation) when C(mesh_ca_revocation) is true,
        V(istiod_debug) when C(mesh_trace_istiod_debug) is true (the trace reads istiod's debug views).
    type: list
    elements: str
    default: []
    choices: [replicate_namespaces, dns_configmap_create, sidecar_dns_proxy, revocation, istiod_debug]
  cluster_name:
    description: Name of the cluster, for messages.
    type: str
    default: this cluster
extends_documentation_fragment:
  - meshops.multicluster.k8s_auth
  - meshops.multicluster.mesh.namespace
  - meshops.multicluster.mesh.gateway_service
  - meshops.multicluster.attributes.read_only
seealso:
  - module: meshops.multicluster.mesh_service_account_kubeconfig
  - module: meshops.multicluster.mesh_preflight
  - plugin: meshops.multicluster.rbac_objects
    plugin_type: filter
  - ref: ansible_collections.meshops.multicluster.docsite.permissions
    description: The two identities, the operate identity's RBAC, and what each step needs.
  - ref: ansible_collections.meshops.multicluster.docsite.troubleshooting
    description: Refused input, credentials and missing permissions.
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
# What the preflight role does before any step writes: one check per cluster, every missing permission named.
# In a play on the hosts of group mesh_clusters with connection: local. module_defaults on the block
# connect every module of group meshops.multicluster.k8s to this host's cluster.
- name: May this identity run the mesh's steps?
  module_defaults:
    group/meshops.multicluster.k8s:
      kubeconfig: "{{ mesh_kubeconfig | default(omit) }}"
      context: "{{ mesh_context | default(omit) }}"
  block:
    - name: Check the permissions of the day-2 steps
      meshops.multicluster.mesh_permissions:
        cluster_name: "{{ mesh_cluster_name | default(inventory_hostname) }}"
        steps: [trust, dns, services, verify]
        options: [replicate_namespaces]
        namespace: istio-system
        gateway_service: istio-eastwestgateway

# Keep going and collect what is missing, for instance to print the RBAC a cluster admin must grant.
- name: Check the services step's permissions without failing the play
  meshops.multicluster.mesh_permissions:
    steps: [services]
    options: [replicate_namespaces]
  register: services_permissions
  ignore_errors: true

- name: Show the missing permissions
  ansible.builtin.debug:
    msg: >-
      {{ services_permissions.user }} lacks
      {{ services_permissions.missing | map(attribute='verb') | zip(services_permissions.missing | map(attribute='resource'))
         | map('join', ' ') | join(', ') }}
  when: services_permissions is failed

# Run as the operate identity, with the kubeconfig meshops.multicluster.mesh_service_account_kubeconfig wrote.
- name: Check the operate identity
  meshops.multicluster.mesh_permissions:
    steps: [verify]
    kubeconfig: "{{ playbook_dir }}/operate/{{ inventory_hostname }}.kubeconfig"
"""

RETURN = r"""
missing:
  description: The missing permissions, one per verb, resource and name, each with the step that needs it; empty when none is missing.
  returned: always
  type: list
  elements: dict
  sample: [{"step": "trust", "verb": "create", "resource": "secrets", "name": "cacerts", "namespace": "istio-system"}]
user:
  description: The user name the API server sees, when a permission is missing.
  returned: when a permission is missing
  type: str
  sample: system:serviceaccount:meshops-system:meshops-operate
"""

from ansible_collections.meshops.multicluster.plugins.module_utils._access import permissions
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import fail_with, k8s_client, k8s_module
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import GATEWAY, ISTIO_NAMESPACE


def main():
    module = k8s_module(dict(
        steps=dict(type="list", elements="str", required=True, choices=list(permissions.STEPS)),
        namespace=dict(type="str", default=ISTIO_NAMESPACE),
        gateway_service=dict(type="str", default=GATEWAY),
        options=dict(type="list", elements="str", default=[], choices=list(permissions.OPTIONS)),
        cluster_name=dict(type="str", default="this cluster"),
    ), supports_check_mode=True)
    p = module.params
    rules = permissions.step_rules(p["steps"], p["namespace"], p["gateway_service"], p["options"])
    client = k8s_client(module)
    try:
        reviews = {namespace: client.review_rules(namespace)
                   for namespace in permissions.review_namespaces(rules, p["namespace"])}
        lacking = permissions.missing(rules, reviews, p["namespace"])
        if not lacking:
            module.exit_json(changed=False, missing=[])
        user = client.whoami()
    except MeshError as exc:
        fail_with(module, exc, where="%s: cannot ask the API server what this identity may do" % p["cluster_name"])
    fail_with(module, permissions.lacking_error(p["cluster_name"], user, lacking))


if __name__ == "__main__":
    main()
