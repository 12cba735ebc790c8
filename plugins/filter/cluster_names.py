# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: cluster_names
short_description: The mesh cluster names of inventory hosts
version_added: 0.1.0
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
"""

EXAMPLES = r"""
unavailable: "{{ groups['mesh_clusters'] | difference(ansible_play_hosts) | meshops.multicluster.cluster_names(hostvars) }}"
"""

RETURN = r"""
_value:
  description: Cluster names, in the order of the hosts.
  type: list
  elements: str
"""


def cluster_names(hosts, hostvars):
    return [hostvars[host].get("mesh_cluster_name") or host for host in hosts]


class FilterModule:
    def filters(self):
        return {"cluster_names": cluster_names}
