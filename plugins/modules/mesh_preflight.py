#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_preflight
short_description: Check the inventory of the whole fleet before any cluster is touched
version_added: 0.1.0
description:
  - Runs once, on the controller, with the description of every cluster of the play.
  - Fails, listing every problem with the host, the variable, its value and what is expected, when
    a cluster name or network is not a DNS-1123 label, two clusters share a name, C(mesh_id) or
    C(mesh_trust_domain) differ between clusters, or a per-cluster values override sets what must be
    identical fleet-wide.
  - Warns when the control planes of the fleet would not be identical (chart version or shared values).
  - Talks to no cluster.
options:
  clusters:
    description:
      - One entry per cluster, as the C(preflight) role builds it from the inventory.
    type: list
    elements: dict
    required: true
attributes:
  check_mode:
    support: full
    description: Reads nothing, writes nothing; the same in check mode.
  diff_mode:
    support: none
    description: Nothing to show.
  idempotent:
    support: full
    description: Never changes anything.
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
- name: Check the fleet's inventory
  meshops.multicluster.mesh_preflight:
    clusters: "{{ ansible_play_hosts_all | map('extract', hostvars, 'mesh_cluster') | list }}"
  run_once: true
"""

RETURN = r"""
clusters:
  description: Cluster names, in inventory order.
  returned: success
  type: list
  elements: str
identical_control_planes:
  description: Whether every cluster gets the same chart version and shared values.
  returned: success
  type: bool
control_plane_identities:
  description: Fingerprint of (chart version, shared values) mapped to the clusters that have it.
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshops.multicluster.plugins.module_utils.fleet import FleetError, check_fleet


def main():
    module = AnsibleModule(argument_spec=dict(clusters=dict(type="list", elements="dict", required=True)),
                           supports_check_mode=True)
    try:
        summary = check_fleet(module.params["clusters"])
    except FleetError as exc:
        module.fail_json(msg=str(exc))
    if not summary["identical_control_planes"]:
        groups = "; ".join(", ".join(names) for names in summary["control_plane_identities"].values())
        module.warn("the control planes of the fleet are not identical (chart version or shared values differ "
                    "between these groups of clusters: %s)" % groups)
    module.exit_json(changed=False, **summary)


if __name__ == "__main__":
    main()
