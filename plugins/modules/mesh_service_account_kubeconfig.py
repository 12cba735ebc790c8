#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_service_account_kubeconfig
short_description: Write a kubeconfig for a ServiceAccount, with a token of bounded lifetime
version_added: 1.0.0
description:
  - Asks the API server for a token of the ServiceAccount (TokenRequest) and writes a kubeconfig
    file (mode 0600) for it - the cluster's server and CA as the module's own connection sees them,
    one context named O(context_name).
  - Keeps the file only while its token is valid for more than O(renew_before_hours) and the file
    is for the same cluster (server, CA data, TLS settings) and the same ServiceAccount - its name,
    namespace and uid, read from the token's claims; a ServiceAccount deleted and re-created has a
    new uid. Otherwise asks for a new token, and RV(reason) says why. The token never appears in
    the module's output.
  - The file holds a credential - keep it out of version control; an AWX Kubernetes credential
    takes the server, CA and token instead (docs/permissions.md).
options:
  service_account:
    description: Name of the ServiceAccount.
    type: str
    required: true
  namespace:
    description: Namespace of the ServiceAccount.
    type: str
    required: true
  path:
    description: File to write.
    type: path
    required: true
  context_name:
    description: Name of the context (and of its cluster and user) in the file.
    type: str
    required: true
  duration_hours:
    description: Lifetime of the token asked for; the API server may shorten it.
    type: int
    default: 720
  renew_before_hours:
    description: Write a new token when the current one expires within this many hours.
    type: int
    default: 168
extends_documentation_fragment:
  - meshops.multicluster.k8s_auth
attributes:
  check_mode:
    support: full
    description: Reports whether a new token would be written; asks for none.
  diff_mode:
    support: none
    description: The file holds a credential; no diff is shown.
  idempotent:
    support: full
    description: Keeps the file while its token is valid for more than O(renew_before_hours), for the same cluster and ServiceAccount.
seealso:
  - module: meshops.multicluster.mesh_permissions
  - module: meshops.multicluster.mesh_resources
  - plugin: meshops.multicluster.rbac_objects
    plugin_type: filter
  - ref: ansible_collections.meshops.multicluster.docsite.permissions
    description: Creating the operate identity, and using it as an AWX credential instead of a file.
  - ref: ansible_collections.meshops.multicluster.docsite.operations
    description: Credentials in AWX / Automation Platform.
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
# What playbooks/rbac.yml does, run as a cluster administrator: the operate identity's kubeconfig per cluster.
# In a play on the hosts of group mesh_clusters with connection: local. module_defaults on the block
# connect every module of group meshops.multicluster.k8s to this host's cluster.
- name: Kubeconfigs of the operate identity
  module_defaults:
    group/meshops.multicluster.k8s:
      kubeconfig: "{{ mesh_kubeconfig | default(omit) }}"
      context: "{{ mesh_context | default(omit) }}"
  block:
    - name: Kubeconfig of the operate identity (a token of 30 days, renewed in its last week)
      meshops.multicluster.mesh_service_account_kubeconfig:
        service_account: meshops-operate
        namespace: meshops-system
        path: "{{ playbook_dir }}/operate/{{ inventory_hostname }}.kubeconfig"
        context_name: "{{ mesh_context | default(inventory_hostname) }}"
        duration_hours: 720
        renew_before_hours: 168
      register: operate

    - name: Say when each token expires, and why one was renewed
      ansible.builtin.debug:
        msg: "{{ operate.user }}: token until {{ operate.expires }}{{ ' (new: ' ~ operate.reason ~ ')' if operate.changed else '' }}"

# Which kubeconfigs a run would renew, asking for no token and writing nothing.
- name: Which tokens are due
  meshops.multicluster.mesh_service_account_kubeconfig:
    service_account: meshops-operate
    namespace: meshops-system
    path: "{{ playbook_dir }}/operate/{{ inventory_hostname }}.kubeconfig"
    context_name: "{{ inventory_hostname }}"
  check_mode: true
  register: due

- name: Show them
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }}: {{ due.reason }}"
  when: due.changed
"""

RETURN = r"""
expires:
  description: When the token in the file expires (UTC, ISO 8601).
  returned: when the file was kept or written (not in check mode when a new token is due)
  type: str
  sample: "2027-01-05T03:40:00+00:00"
reason:
  description: Why a new token was (in check mode, would be) written; null when the file was kept.
  returned: always
  type: str
  sample: the token expires within the renewal time
user:
  description: The user name of the ServiceAccount.
  returned: always
  type: str
  sample: system:serviceaccount:meshops-system:meshops-operate
"""

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import fail_with, k8s_client, k8s_module
from ansible_collections.meshops.multicluster.plugins.module_utils._access.service_account import AccountKubeconfig


def main():
    module = k8s_module(dict(
        service_account=dict(type="str", required=True),
        namespace=dict(type="str", required=True),
        path=dict(type="path", required=True),
        context_name=dict(type="str", required=True),
        duration_hours=dict(type="int", default=720),
        renew_before_hours=dict(type="int", default=168),
    ), supports_check_mode=True)
    p = module.params
    try:
        kubeconfig = AccountKubeconfig(p["namespace"], p["service_account"], p["path"], p["context_name"],
                                       duration_hours=p["duration_hours"], renew_before_hours=p["renew_before_hours"])
    except MeshError as exc:
        fail_with(module, exc)
    client = k8s_client(module)
    try:
        # masked in anything the module returns, should the token ever slip in
        result = kubeconfig.keep(client, hide=module.no_log_values.add)
    except MeshError as exc:
        fail_with(module, exc)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
