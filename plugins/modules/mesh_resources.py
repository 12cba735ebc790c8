#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_resources
short_description: Keep a set of Kubernetes objects owned by meshops.multicluster in one cluster
version_added: 0.1.0
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
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
- name: The *.global routing of this cluster's east-west gateway
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
"""

RETURN = r"""
created:
  description: C(Kind namespace/name) of each object created.
  returned: always
  type: list
  elements: str
updated:
  description: Objects whose desired fields differed and were re-applied.
  returned: always
  type: list
  elements: str
deleted:
  description: Objects deleted (state absent, or pruned).
  returned: always
  type: list
  elements: str
unchanged:
  description: Number of objects already as desired.
  returned: always
  type: int
resources:
  description:
    - The desired objects as they are in the cluster (after the write), in the order of O(objects),
      for example to read a Service's C(spec.clusterIP). Null for an object not (yet) in the cluster.
  returned: when O(state=present)
  type: list
  elements: dict
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
