# Copyright: meshops developers
# Apache License 2.0 (see LICENSE)

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
    description: Namespace of the Secret.
    type: str
    default: istio-system
  name:
    description: Name of the Secret.
    type: str
    default: cacerts
requirements:
  - cryptography >= 40.0
"""
