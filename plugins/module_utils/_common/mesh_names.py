# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mesh's names, written once: defaults, object and release names, the gateway port, our labels.

Argument specs, the permissions table, the fleet check, the zone records and the report import
them from here. The module documentation states the defaults again (YAML cannot import): a unit
test (tests/unit/plugins/doc_fragments/test_mesh_fragment.py) holds it to these values, and so
are the roles' defaults of mesh_istio_namespace and mesh_istio_gateway_name.
"""

from __future__ import annotations

# The control plane's namespace (istiod, the gateway, Secret cacerts, the zone server, the VIP
# store) unless the inventory says otherwise (mesh_istio_namespace).
ISTIO_NAMESPACE = "istio-system"
# The east-west gateway: Helm release, Deployment and Service (mesh_istio_gateway_name).
GATEWAY = "istio-eastwestgateway"
# The gateway port other clusters connect to (mTLS, AUTO_PASSTHROUGH, SNI routing).
GATEWAY_PORT = 15443
# The Helm release of Istio's base chart (the CRDs); the others are istiod's of each revision
# (_control_plane/revision_names.istiod_name) and GATEWAY.
BASE_RELEASE = "istio-base"

# Istio's plug-in CA: Secret in the control plane's namespace.
CACERTS = "cacerts"
# With revocation on, a cluster's next intermediate waits here until its CRL is in every cluster.
CACERTS_NEXT = CACERTS + "-next"
# What istiod publishes in every namespace: its roots, and (plug-in CA with ca-crl.pem) the CRLs.
CA_ROOT_CONFIGMAP = "istio-ca-root-cert"
CA_CRL_CONFIGMAP = "istio-ca-crl"
# The fleet's VIP allocations: ConfigMap in the control plane's namespace, one copy per cluster.
VIP_STORE = "meshops-vips"

# The DNS zone of the mesh's hosts (<name>.<namespace>.global) and its zone server (CoreDNS
# Deployment, Service and Corefile ConfigMap) with the ConfigMap of its records.
ZONE = "global"
ZONE_SERVER = "istiocoredns"
ZONE_RECORDS = "istiocoredns-records"

# What the collection creates carries this label.
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "meshops.multicluster"


def managed_labels(extra=None):
    labels = {MANAGED_BY_LABEL: MANAGED_BY}
    labels.update(extra or {})
    return labels


def is_ours(obj):
    return ((obj.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY
