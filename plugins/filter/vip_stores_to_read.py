# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: vip_stores_to_read
short_description: The clusters whose VIP store the services plan still needs in full
version_added: 1.0.0
description:
  - Every cluster reports its copy of the VIP store by fingerprint, one cluster with its allocations
    too. For each distinct copy of the highest generation that no cluster reported in full, the
    first cluster (by name) that holds it - as a rule none, as every cluster holds the same copy.
positional: _input
options:
  _input:
    description:
      - The clusters as the services role describes them for the plan (C(mesh_services_cluster)), each
        with C(name) and C(vip_store) (RV(meshops.multicluster.mesh_services_info#module:vip_store)).
    type: list
    elements: dict
    required: true
seealso:
  - module: meshops.multicluster.mesh_services_info
  - module: meshops.multicluster.service_entry_plan
  - ref: ansible_collections.meshops.multicluster.docsite.services
    description: VIPs, and the cost of a run.
"""

EXAMPLES = r"""
# The clusters whose VIP store must still be read in full (as a rule none: every copy is the same);
# read them, as the services role does before planning.
- name: Read the VIP store in full where its copy differs from the one read so far
  meshops.multicluster.mesh_services_info:
    vip_store_allocations: true
  when: mesh_services_cluster.name in (ansible_play_hosts | map('extract', hostvars, 'mesh_services_cluster')
                                       | meshops.multicluster.vip_stores_to_read)
  register: full_store

- name: Show which clusters were read again
  ansible.builtin.debug:
    msg: "{{ ansible_play_hosts | map('extract', hostvars, 'mesh_services_cluster') | meshops.multicluster.vip_stores_to_read }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: Cluster names, sorted.
  type: list
  elements: str
  sample: [west]
"""

from ansible_collections.meshops.multicluster.plugins.module_utils._services.vips import stores_to_read


def vip_stores_to_read(clusters):
    return stores_to_read({cluster["name"]: cluster.get("vip_store") for cluster in clusters})


class FilterModule:
    def filters(self):
        return {"vip_stores_to_read": vip_stores_to_read}
