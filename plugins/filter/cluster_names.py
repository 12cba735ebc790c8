# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: cluster_names
short_description: The mesh cluster names of inventory hosts
version_added: 1.0.0
description:
  - Each host's C(mesh_cluster_name), or the host's inventory name when it has none; works for
    hosts that did not run in the play (left out by C(--limit), or failed earlier).
positional: _input, hostvars
options:
  _input:
    description: Inventory host names.
    type: list
    elements: str
    required: true
  hostvars:
    description: The C(hostvars) magic variable.
    type: dict
    required: true
seealso:
  - module: meshops.multicluster.service_entry_plan
  - plugin: meshops.multicluster.kubeconfig_contexts
    plugin_type: inventory
  - ref: ansible_collections.meshops.multicluster.docsite.services
    description: Clusters that could not be read keep what they export.
"""

EXAMPLES = r"""
- name: Plan the fleet, keeping what the clusters not read in this run export
  meshops.multicluster.service_entry_plan:
    clusters: "{{ ansible_play_hosts | map('extract', hostvars, 'mesh_services_cluster') | list }}"
    # the clusters of the fleet that did not run in this play (failed earlier, unreachable, left out by --limit)
    unavailable: "{{ groups['mesh_clusters'] | difference(ansible_play_hosts) | meshops.multicluster.cluster_names(hostvars) }}"
    # cluster name to its inventory groups, for export-to annotations that name a group (group:eu)
    cluster_groups: "{{ dict(groups['mesh_clusters'] | meshops.multicluster.cluster_names(hostvars)
                        | zip(groups['mesh_clusters'] | map('extract', hostvars, 'group_names'))) }}"
  run_once: true
  register: fleet
"""

RETURN = r"""
_value:
  description: Cluster names, in the order of the hosts.
  type: list
  elements: str
  sample: [east, west, onprem-1]
"""


def cluster_names(hosts, hostvars):
    return [hostvars[host].get("mesh_cluster_name") or host for host in hosts]


class FilterModule:
    def filters(self):
        return {"cluster_names": cluster_names}
