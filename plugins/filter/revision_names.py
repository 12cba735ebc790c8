# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: revision_names
short_description: The names Istio's charts give the objects of a control plane revision
version_added: 1.1.0
description:
  - The Helm release, Deployment and Service of a revision's istiod (C(istiod-<revision>), C(istiod) for
    V(default), an istiod installed without a revision), its mesh config ConfigMap (C(istio-<revision>))
    and the ConfigMap of the values it was installed with (C(values-<revision>)).
  - The roles take these names from here instead of spelling them out.
positional: _input
options:
  _input:
    description: A revision name (C(mesh_cluster.revision)), or V(default) for an istiod installed without one.
    type: str
    required: true
seealso:
  - plugin: meshops.multicluster.istio_revision
    plugin_type: filter
  - module: meshops.multicluster.mesh_revision_tags
"""

EXAMPLES = r"""
- name: Wait for the revision's istiod and the gateway
  meshops.multicluster.mesh_gateway_info:
    namespace: istio-system
    service: istio-eastwestgateway
    deployments: ["{{ (mesh_cluster.revision | meshops.multicluster.revision_names).istiod }}", istio-eastwestgateway]
"""

RETURN = r"""
_value:
  description: The names of the revision's objects.
  type: dict
  contains:
    istiod:
      description: Helm release, Deployment and Service of the revision's istiod.
      type: str
      sample: istiod-1-31-0
    mesh_config:
      description: ConfigMap of the revision's mesh config (key C(mesh)).
      type: str
      sample: istio-1-31-0
    values_configmap:
      description: ConfigMap of the values the revision's istiod chart was installed with.
      type: str
      sample: values-1-31-0
"""

from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revision_names import (
    istiod_name, mesh_config_name, values_configmap_name)


def revision_names(revision):
    return {"istiod": istiod_name(revision), "mesh_config": mesh_config_name(revision),
            "values_configmap": values_configmap_name(revision)}


class FilterModule:
    def filters(self):
        return {"revision_names": revision_names}
