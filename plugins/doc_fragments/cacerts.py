# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Where a cluster's Istio plug-in CA lives and when it counts as expiring, shared by
    # ca_intermediate and ca_intermediate_info.
    DOCUMENTATION = r"""
options:
  renew_before_days:
    description: An intermediate that expires within this many days is C(expiring) (and re-issued by M(meshops.multicluster.ca_intermediate)).
    type: int
    default: 30
  namespace:
    description:
      - Namespace of the Secret, the control plane's (istiod's) namespace. A new intermediate gets
        C(istiod.<namespace>.svc) as its DNS name.
    type: str
    default: istio-system
  name:
    description: Name of the Secret.
    type: str
    default: cacerts
requirements:
  - cryptography >= 40.0
"""
