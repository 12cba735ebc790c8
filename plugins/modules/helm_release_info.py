#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: helm_release_info
short_description: Tell which Helm releases of a namespace already have the desired chart version and values
version_added: 1.0.0
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
seealso:
  - module: kubernetes.core.helm
  - module: meshops.multicluster.mesh_check
  - module: meshops.multicluster.mesh_gateway_info
  - ref: ansible_collections.meshops.multicluster.docsite.operations
    description: Upgrading Istio cluster by cluster, and what a run that changes nothing costs.
  - ref: ansible_collections.meshops.multicluster.docsite.variables
    description: The control_plane role's variables (chart version, shared values).
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
# The control_plane role runs helm only for the releases that differ: a run that changes nothing starts no helm process.
# In a play on the hosts of group mesh_clusters with connection: local. module_defaults on the block
# connect every module of group meshops.multicluster.k8s to this host's cluster.
- name: Istio control plane, helm only where needed
  module_defaults:
    group/meshops.multicluster.k8s:
      kubeconfig: "{{ mesh_kubeconfig | default(omit) }}"
      context: "{{ mesh_context | default(omit) }}"
  vars:
    istio_version: 1.31.0
    istio_releases:
      - {name: istio-base, chart_ref: base, values: {defaultRevision: default}}
      - {name: istiod, chart_ref: istiod, values: {global: {meshID: mesh1, network: "{{ inventory_hostname }}"}}}
  block:
    - name: Which releases already have the pinned chart version and values
      meshops.multicluster.helm_release_info:
        namespace: istio-system
        chart_version: "{{ istio_version }}"
        releases: "{{ istio_releases | items2dict(key_name='name', value_name='values') }}"
      register: deployed

    - name: Install or upgrade what differs
      kubernetes.core.helm:
        kubeconfig: "{{ mesh_kubeconfig | default(omit) }}"
        context: "{{ mesh_context | default(omit) }}"
        release_name: "{{ item.name }}"
        release_namespace: istio-system
        chart_ref: "{{ item.chart_ref }}"
        chart_repo_url: https://istio-release.storage.googleapis.com/charts
        chart_version: "{{ istio_version }}"
        release_values: "{{ item['values'] }}"
      loop: "{{ istio_releases }}"
      loop_control:
        label: "{{ item.name }}: {{ deployed.releases[item.name].differences | join(', ') or 'as desired' }}"
      when: not deployed.releases[item.name].up_to_date

# Before an upgrade: which clusters' east-west gateway is not yet at the new chart version with the fleet's values.
- name: Compare the gateway release with the upgrade's chart version and values
  meshops.multicluster.helm_release_info:
    namespace: istio-system
    chart_version: 1.31.1
    releases:
      istio-eastwestgateway:
        labels: {istio: eastwestgateway, topology.istio.io/network: "{{ mesh_network }}"}
        networkGateway: "{{ mesh_network }}"
  register: gateway_release

- name: Show what the upgrade would change
  ansible.builtin.debug:
    msg: >-
      revision {{ gateway_release.releases['istio-eastwestgateway'].revision }}:
      {{ gateway_release.releases['istio-eastwestgateway'].differences | join(', ') }}
  when: not gateway_release.releases['istio-eastwestgateway'].up_to_date
"""

RETURN = r"""
releases:
  description:
    - For each desired release (the keys of O(releases)), what is deployed and why it differs.
    - C(up_to_date) - whether the deployed revision has the chart version and the values asked for;
      C(chart) and C(version) - the deployed chart and its version (null when not installed);
      C(revision) - Helm's revision (0 when not installed); C(differences) - why it is not up to date
      (C(not installed), C(chart version <deployed>, expected <wanted>), C(values differ)).
  returned: success
  type: dict
  sample:
    istio-base:
      up_to_date: true
      chart: base
      version: 1.31.0
      revision: 2
      differences: []
    istiod:
      up_to_date: false
      chart: istiod
      version: 1.30.4
      revision: 4
      differences: [chart version 1.30.4, expected 1.31.0]
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
