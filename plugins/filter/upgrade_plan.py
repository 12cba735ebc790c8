# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: upgrade_plan
short_description: What the upgrade of one cluster to a revision still has to do, or its rollback
version_added: 1.1.0
description:
  - From what M(meshops.multicluster.mesh_revision_info) read of one cluster, the phases of its upgrade to
    O(target) and whether each still has work (C(todo)), the tags to set at the canary step and at the end,
    istio-base's C(defaultRevision) until the tags move, the old revisions and the namespaces that pin them.
  - Decided from what the cluster runs, never from an earlier run, so that an upgrade resumes where it stopped.
  - With O(rollback), how to return the cluster to the revision it ran before O(target) instead.
  - Fails when the cluster runs no istiod, or (rollback) when no previous revision is left.
positional: _input, target, chart_version, tag_names
options:
  _input:
    description: The result of M(meshops.multicluster.mesh_revision_info) for the cluster.
    type: dict
    required: true
  target:
    description: The revision the cluster moves to (C(mesh_cluster.revision)).
    type: str
    required: true
  chart_version:
    description: The chart version of O(target) (C(mesh_istio_version)).
    type: str
    required: true
  tag_names:
    description: The names of the stable and canary tags (C(mesh_istio_tags)).
    type: dict
    required: true
  cluster:
    description: The cluster's name, for messages.
    type: str
    default: cluster
  fleet_versions:
    description:
      - "Chart versions each cluster of the fleet runs (C({cluster: [versions]})); when given, C(window) says
        whether the fleet stays within one minor of itself once this cluster runs O(chart_version)."
    type: dict
  rollback:
    description: Plan the return to the previous revision instead.
    type: bool
    default: false
  gateway_strategy:
    description:
      - How the east-west gateway moves to O(target) - V(in_place) (its release upgraded) or V(canary) (first a
        second release C(<gateway>-<target>) behind the same Service, then the gateway in place, then that
        release removed).
    type: str
    default: in_place
    choices: [in_place, canary]
seealso:
  - module: meshops.multicluster.mesh_revision_info
  - plugin: meshops.multicluster.upgrade_gates
    plugin_type: filter
  - plugin: meshops.multicluster.upgrade_removal
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Read the cluster's revisions
  meshops.multicluster.mesh_revision_info:
    namespace: istio-system
    gateway: istio-eastwestgateway
  register: revisions

- name: Show what the upgrade to revision 1-31-1 still has to do
  ansible.builtin.debug:
    msg: "{{ (revisions | meshops.multicluster.upgrade_plan('1-31-1', '1.31.1', {'stable': 'stable', 'canary': 'canary'})).phases
             | selectattr('todo') | map(attribute='what') | list }}"
"""

RETURN = r"""
_value:
  description:
    - The upgrade's plan - C(target), C(previous) (the revision left, or null), C(old_revisions), C(in_place) (same
      revision name, new chart), C(done), C(base_default_revision), C(canary_tags), C(final_tags),
      C(pinned_namespaces), C(gateway) (C(canary) - the canary gateway release to run first, or null; C(remove) - the
      canary gateway releases to uninstall once the gateway moved), C(phases) (C(name), C(todo), C(what)) and
      C(window) (null, or why the fleet would leave its version window).
    - With O(rollback) - C(needed), C(message) and, when needed, C(previous), C(remove), C(remove_gateways) (canary
      gateway releases left behind) and C(tags).
  type: dict
  sample:
    target: 1-31-1
    previous: 1-31-0
    old_revisions: [1-31-0]
    in_place: false
    done: false
    base_default_revision: 1-31-0
    canary_tags: {default: 1-31-0, stable: 1-31-0, canary: 1-31-1}
    final_tags: {default: 1-31-1, stable: 1-31-1, canary: 1-31-1}
    pinned_namespaces: {payments: 1-31-0}
    gateway: {canary: istio-eastwestgateway-1-31-1, remove: [istio-eastwestgateway-1-31-1]}
    phases:
      - {name: precheck, todo: true, what: "the fleet stays within one minor once this cluster runs 1.31.1; ..."}
    window: null
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError

# To find one filter of a collection by name, Ansible imports every filter file of the collection, in
# the process of every task that uses one (site.yml's tasks too): the plan's code (the fleet check,
# the Kubernetes client) is imported when an upgrade filter runs, not when this file is read.


def _plan():
    from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane import upgrade_plan as plan
    return plan


def upgrade_plan(info, target, chart_version, tag_names, cluster="cluster", fleet_versions=None, rollback=False,
                 gateway_strategy="in_place"):
    from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revisions import version_window
    plan = _plan()
    try:
        if rollback:
            return plan.rollback_plan(info, target, tag_names, cluster)
        result = plan.upgrade_plan(info, target, chart_version, tag_names, cluster, gateway_strategy)
    except MeshError as exc:
        raise AnsibleFilterError(str(exc)) from None
    result["window"] = None if fleet_versions is None else plan.window_problem(
        version_window(plan.fleet_versions_after(fleet_versions, cluster, chart_version)), cluster, chart_version)
    return result


def upgrade_gates(info, target, cluster="cluster", check=None, gateway_address=None, gates=None):
    plan = _plan()
    failures = plan.gate_failures(info, target, check, gateway_address, plan.GATES if gates is None else gates)
    return {"ok": not failures, "failures": failures,
            "message": plan.gate_message(cluster, target, failures) if failures else ""}


def upgrade_importers(fleet_plan, cluster, dns_records=True):
    return _plan().importers(fleet_plan, cluster, dns_records)


def upgrade_importer_gate(checked, entries, cluster, target):
    return _plan().importer_gate(zip(checked["results"], entries["results"]), cluster, target)


def upgrade_removal(second, first, target):
    return _plan().removal(first, second, target)


class FilterModule:
    def filters(self):
        return {"upgrade_plan": upgrade_plan, "upgrade_gates": upgrade_gates, "upgrade_removal": upgrade_removal,
                "upgrade_importers": upgrade_importers, "upgrade_importer_gate": upgrade_importer_gate}
