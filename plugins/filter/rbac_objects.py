# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: rbac_objects
short_description: The RBAC objects of the collection's operate identity
version_added: 1.0.0
description:
  - The ClusterRole, the Roles (control plane's namespace, kube-system) and their bindings that grant
    the permissions of the day-2 steps (trust, dns, services, verify), from the one list of
    permissions the steps check themselves against (docs/permissions.md).
  - When those rules write namespaces (option replicate_namespaces), also a ValidatingAdmissionPolicy
    and its binding, named C(<name>-namespaces), that let the subjects create a namespace only with
    the collection's label and change or delete only one that carries it.
positional: _input
options:
  _input:
    description: RBAC subjects to bind (ServiceAccount, User or Group entries).
    type: list
    elements: dict
    required: true
  mesh_namespace:
    description: Namespace of the control plane.
    type: str
    default: istio-system
  gateway:
    description: Name of the east-west gateway.
    type: str
    default: istio-eastwestgateway
  options:
    description: Rules some fleets need (replicate_namespaces, dns_configmap_create, sidecar_dns_proxy).
    type: list
    elements: str
    default: []
  name:
    description: Name of the roles and bindings.
    type: str
    default: meshops-operate
seealso:
  - module: meshops.multicluster.mesh_resources
  - module: meshops.multicluster.mesh_permissions
  - module: meshops.multicluster.mesh_service_account_kubeconfig
  - ref: ansible_collections.meshops.multicluster.docsite.permissions
    description: The operate identity, and what each step needs.
"""

EXAMPLES = r"""
# The operate identity's RBAC for a ServiceAccount, applied with the collection's module (ownership label,
# check mode and diff included); with the rules for ServiceEntries in their Services' namespaces.
- name: RBAC of the operate identity
  meshops.multicluster.mesh_resources:
    objects: "{{ [{'kind': 'ServiceAccount', 'name': 'meshops-operate', 'namespace': 'meshops-system'}]
                 | meshops.multicluster.rbac_objects(options=['replicate_namespaces']) }}"

# The same rules for a group of people, named after the team, for a control plane in a namespace of its own.
- name: RBAC of the on-call group
  meshops.multicluster.mesh_resources:
    objects: "{{ [{'kind': 'Group', 'name': 'platform-oncall', 'apiGroup': 'rbac.authorization.k8s.io'}]
                 | meshops.multicluster.rbac_objects(name='meshops-oncall', mesh_namespace='istio-mesh',
                                                     gateway='mesh-gateway', options=['dns_configmap_create']) }}"
  check_mode: true
  diff: true
"""

RETURN = r"""
_value:
  description: Kubernetes objects (RBAC, and the admission policy), labelled as the collection's.
  type: list
  elements: dict
  sample:
    - apiVersion: rbac.authorization.k8s.io/v1
      kind: ClusterRole
      metadata:
        name: meshops-operate
        labels: {app.kubernetes.io/managed-by: meshops.multicluster}
      rules:
        - {apiGroups: [''], resources: [services], verbs: [list]}
        - {apiGroups: [networking.istio.io], resources: [serviceentries], verbs: [list, create, patch, delete]}
    - apiVersion: rbac.authorization.k8s.io/v1
      kind: ClusterRoleBinding
      metadata:
        name: meshops-operate
        labels: {app.kubernetes.io/managed-by: meshops.multicluster}
      roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: meshops-operate}
      subjects: [{kind: ServiceAccount, name: meshops-operate, namespace: meshops-system}]
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import GATEWAY, ISTIO_NAMESPACE, managed_labels


def operate_rbac_objects(subjects, mesh_namespace=ISTIO_NAMESPACE, gateway=GATEWAY, options=(), name=None):
    # Imported here, not above: Ansible imports every filter file of the collection to find one filter
    # by name, in the process of each task that uses one; the permissions table is needed only here.
    from ansible_collections.meshops.multicluster.plugins.module_utils._access.permissions import IDENTITY_NAME, rbac_objects
    name = IDENTITY_NAME if name is None else name
    try:
        return rbac_objects(subjects, managed_labels(), mesh_namespace, gateway, options, name=name)
    except ValueError as exc:
        raise AnsibleFilterError("rbac_objects: %s" % exc)


class FilterModule:
    def filters(self):
        return {"rbac_objects": operate_rbac_objects}
