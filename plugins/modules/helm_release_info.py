#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: helm_release_info
short_description: Tell which Helm releases of a namespace already have the desired chart version and values
version_added: 0.1.0
description:
  - Reads the deployed revision of each release from Helm's storage Secrets (one list request, no
    helm binary) and compares its chart version and user-supplied values with the desired ones.
  - Lets a role skip C(helm upgrade) for releases that are already as desired, which is most of the
    cost of a run that changes nothing.
  - Values are never returned, only whether they differ, since they may hold credentials.
  - A storage Secret of one of O(releases) that holds no readable release fails the module, naming the Secret
    and what is wrong with it; the Secrets of other releases are not read.
options:
  chart_version:
    description: Chart version every release must have.
    type: str
    required: true
  releases:
    description: Release name to the user-supplied values it must have (what C(helm get values) shows).
    type: dict
    required: true
extends_documentation_fragment:
  - meshops.multicluster.k8s_auth
  - meshops.multicluster.mesh.namespace
  - meshops.multicluster.attributes.read_only
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
- name: Which control plane releases need helm upgrade
  meshops.multicluster.helm_release_info:
    namespace: istio-system
    chart_version: 1.29.0
    releases:
      istio-base: {defaultRevision: default}
  register: releases

- name: Upgrade what differs
  kubernetes.core.helm:
    release_name: istio-base
    chart_ref: istio/base
    release_namespace: istio-system
  when: not releases.releases['istio-base'].up_to_date
"""

RETURN = r"""
releases:
  description: For each desired release, what is deployed and why it differs.
  returned: success
  type: dict
  sample:
    istiod:
      up_to_date: false
      chart: istiod
      version: 1.28.3
      revision: 4
      differences: [chart version 1.28.3, expected 1.29.0]
"""

from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.helm_release import compare_release, deployed_releases
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import fail_with, k8s_client, k8s_module
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import ISTIO_NAMESPACE


def main():
    module = k8s_module(dict(
        namespace=dict(type="str", default=ISTIO_NAMESPACE),
        chart_version=dict(type="str", required=True),
        releases=dict(type="dict", required=True),
    ), supports_check_mode=True)
    p = module.params
    client = k8s_client(module)
    try:
        deployed = deployed_releases(client.list("Secret", p["namespace"], "owner=helm"), names=p["releases"])
    except MeshError as exc:
        fail_with(module, exc)
    module.exit_json(changed=False, releases={
        name: compare_release(deployed.get(name), p["chart_version"], values or {})
        for name, values in p["releases"].items()})


if __name__ == "__main__":
    main()
