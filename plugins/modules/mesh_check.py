#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_check
short_description: Read what the fleet check needs from one cluster
version_added: 0.1.0
description:
  - Reads, in one call and without writing anything, the Helm releases of the control plane
    (chart versions from the labels Helm's charts put on their objects, istiod's values from its
    ConfigMap C(values); no Secret is read), whether istiod and the gateway are
    Available, the gateway's address, and the records of the C(global) zone server.
  - With O(dns_server), asks that DNS server for every host of O(expected_records), as a workload of
    the cluster would (the cluster DNS address must be reachable from the controller).
  - The C(verify) role compares the results of every cluster in one report (M(meshops.multicluster.mesh_report)).
options:
  address_override:
    description: The gateway address the inventory sets for this cluster (C(mesh_gateway_address_override)); wins over discovery.
    aliases: [gateway_address_override]
    type: str
    default: ""
  expected_records:
    description: C(.global) host name to VIP, as the ServiceEntries of this cluster hold them.
    type: dict
    default: {}
  dns_server:
    description: Address of the cluster's DNS to query for O(expected_records); empty to skip the queries.
    type: str
    default: ""
  dns_port:
    description: Port of O(dns_server).
    type: int
    default: 53
  dns_wait:
    description:
      - Seconds to keep asking while a name whose zone record is right is answered wrong. A cluster
        DNS picks up a changed configuration only after its reload interval (30 s in kubeadm's
        Corefile) and the ConfigMap's propagation to its pods (up to a minute).
    type: int
    default: 0
extends_documentation_fragment:
  - meshops.multicluster.k8s_auth
  - meshops.multicluster.mesh.namespace
  - meshops.multicluster.mesh.deployments
  - meshops.multicluster.mesh.gateway_service
  - meshops.multicluster.attributes.read_only
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
- name: Read this cluster's state for the fleet report
  meshops.multicluster.mesh_check:
    expected_records: {httpbin.bar.global: 240.0.10.1}
    dns_server: 10.96.0.10
  register: check
"""

RETURN = r"""
releases:
  description: Installed Helm releases in O(namespace), by name, with chart, chart version, app version and (istiod) values.
  returned: always
  type: dict
not_ready:
  description: Deployment name to why it is not Available (absent when all are).
  returned: always
  type: dict
gateway:
  description: Address, port and source of the gateway address; null when it has none.
  returned: always
  type: dict
zone_records:
  description: Host to IP records the C(global) zone server serves; null when it has no records ConfigMap.
  returned: always
  type: dict
dns_answers:
  description: Host to the addresses the cluster's DNS answered, or to the error; empty without O(dns_server).
  returned: always
  type: dict
malformed:
  description:
    - Objects whose content could not be read, each with the check it belongs to (C(control_plane), C(dns),
      C(root)), the object and what is wrong with it; the fleet check fails that check of this cluster.
  returned: always
  type: list
  elements: dict
istiod_roots:
  description:
    - Fingerprints of the roots istiod publishes to workloads (ConfigMap C(istio-ca-root-cert) in O(namespace));
      null when there is none yet. Not the roots of Secret cacerts means istiod runs a CA of its own.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import fail_with, k8s_client, k8s_module
from ansible_collections.meshops.multicluster.plugins.module_utils._verify.cluster_reader import read_cluster
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import GATEWAY, ISTIO_NAMESPACE, ISTIOD


def main():
    module = k8s_module(dict(
        namespace=dict(type="str", default=ISTIO_NAMESPACE),
        deployments=dict(type="list", elements="str", default=[ISTIOD, GATEWAY]),
        gateway_service=dict(type="str", default=GATEWAY),
        address_override=dict(type="str", default="", aliases=["gateway_address_override"]),
        expected_records=dict(type="dict", default={}),
        dns_server=dict(type="str", default=""),
        dns_port=dict(type="int", default=53),
        dns_wait=dict(type="int", default=0),
    ), supports_check_mode=True)
    client = k8s_client(module)
    try:
        result = read_cluster(client, module.params)
    except MeshError as exc:
        fail_with(module, exc)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
