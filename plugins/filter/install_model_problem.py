# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: install_model_problem
short_description: Why the control_plane role must leave a cluster to the upgrade
version_added: 1.1.0
description:
  - The control_plane role installs the fleet's revision and points every tag at it. A cluster that runs
    the in-place model (Helm release C(istiod), no revision) or whose C(default) tag points at another
    revision is moved by C(playbooks/upgrade.yml), not by C(site.yml).
  - Returns the reason, naming the revision the cluster runs and what to run, or an empty string when the role may go on.
positional: _input, legacy_release, tags_before
options:
  _input:
    description: The fleet's revision (C(mesh_cluster.revision)).
    type: str
    required: true
  legacy_release:
    description: What M(meshops.multicluster.helm_release_info) returns for the release C(istiod).
    type: dict
    required: true
  tags_before:
    description: RV(meshops.multicluster.mesh_revision_tags#module:tags_before), the tags as found.
    type: dict
    required: true
  cluster:
    description: The cluster's name, for the message.
    type: str
    default: this cluster
seealso:
  - module: meshops.multicluster.mesh_revision_tags
  - ref: ansible_collections.meshops.multicluster.docsite.operations
    description: Moving a cluster to another revision.
"""

EXAMPLES = r"""
- name: Stop before any write when the cluster runs another revision
  ansible.builtin.assert:
    that: problem == ""
    fail_msg: "{{ problem }}"
  vars:
    problem: "{{ mesh_cluster.revision | meshops.multicluster.install_model_problem(legacy.releases.istiod, tags.tags_before) }}"
"""

RETURN = r"""
_value:
  description: Why the cluster is the upgrade's, or an empty string.
  type: str
  sample: >-
    east runs revision 1-30-2 (its default tag points at it), not mesh_istio_revision=1-31-0: site.yml does not
    move it; run playbooks/upgrade.yml, which moves a cluster from the revision it runs to mesh_istio_revision
"""

from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.install_model import install_model_problem


def install_model_problem_text(revision, legacy_release, tags_before, cluster="this cluster"):
    return install_model_problem(revision, legacy_release, tags_before, cluster) or ""


class FilterModule:
    def filters(self):
        return {"install_model_problem": install_model_problem_text}
