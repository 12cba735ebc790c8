# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: istio_revision
short_description: The Istio revision name a chart version gets by default
version_added: 1.1.0
description:
  - Turns an Istio chart version into a revision name - a DNS label without dots - as the
    C(preflight) role derives the default of C(mesh_istio_revision) from C(mesh_istio_version)
    (C(1.31.0) becomes C(1-31-0)).
positional: _input
options:
  _input:
    description: An Istio chart version.
    type: str
    required: true
seealso:
  - module: meshops.multicluster.mesh_revision_tags
  - ref: ansible_collections.meshops.multicluster.docsite.variables.preflight
    description: C(mesh_istio_revision) and C(mesh_istio_tags).
"""

EXAMPLES = r"""
- name: Name the revision of the pinned chart version
  ansible.builtin.set_fact:
    mesh_istio_revision: "{{ mesh_istio_version | meshops.multicluster.istio_revision }}"
"""

RETURN = r"""
_value:
  description: The revision name.
  type: str
  sample: 1-31-0
"""

from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revision_names import revision_of_version


class FilterModule:
    def filters(self):
        return {"istio_revision": revision_of_version}
