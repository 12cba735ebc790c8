#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_permissions
short_description: Check that the identity in use may do what the collection's steps need in a cluster
version_added: 0.2.0
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
    choices: [trust, control_plane, dns, services, verify]
  options:
    description:
      - Rules some fleets need besides the steps' own; V(replicate_namespaces) when
        C(mesh_services_namespace_mode) is V(replicate), V(sidecar_dns_proxy) when C(mesh_dns_mode)
        is V(sidecar_proxy), V(dns_configmap_create) for kube-dns.
    type: list
    elements: str
    default: []
    choices: [replicate_namespaces, dns_configmap_create, sidecar_dns_proxy]
  cluster_name:
    description: Name of the cluster, for messages.
    type: str
    default: this cluster
extends_documentation_fragment:
  - meshops.multicluster.k8s_auth
  - meshops.multicluster.mesh.namespace
  - meshops.multicluster.mesh.gateway_service
  - meshops.multicluster.attributes.read_only
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
- name: Check the permissions of the services step
  meshops.multicluster.mesh_permissions:
    steps: [services]
    options: [replicate_namespaces]
"""

RETURN = r"""
missing:
  description: The missing permissions, one per verb, resource and name.
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
