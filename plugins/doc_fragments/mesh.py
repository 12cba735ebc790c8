# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options several modules share, about where the mesh's control plane lives. The defaults are
    # those of plugins/module_utils/_common/mesh_names.py (the modules' argument specs import them);
    # tests/unit/plugins/doc_fragments/test_mesh_fragment.py keeps the two the same.

    NAMESPACE = r"""
options:
  namespace:
    description:
      - Namespace of the control plane (C(mesh_istio_namespace)) - istiod, the east-west gateway and
        their Helm releases.
    type: str
    default: istio-system
"""

    GATEWAY_SERVICE = r"""
options:
  gateway_service:
    description: Name of the east-west gateway (C(mesh_istio_gateway_name)) - its Service and Deployment.
    type: str
    default: istio-eastwestgateway
"""
