# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where other clusters reach a cluster's east-west gateway."""

from __future__ import annotations

from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import GATEWAY_PORT


def gateway_address(service, nodes=()):
    """(address, port, how) of a gateway Service, as Admiral finds it, or None.

    Load balancer IP, else load balancer hostname, else an external IP of the Service, else a
    Node's ExternalIP with the NodePort of 15443.
    """
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    for entry in ingress:
        if entry.get("ip"):
            return entry["ip"], GATEWAY_PORT, "load balancer IP"
    for entry in ingress:
        if entry.get("hostname"):
            return entry["hostname"], GATEWAY_PORT, "load balancer hostname"
    spec = service.get("spec") or {}
    if spec.get("externalIPs"):
        return spec["externalIPs"][0], GATEWAY_PORT, "Service externalIP"
    node_port = next((p.get("nodePort") for p in spec.get("ports") or [] if p.get("port") == GATEWAY_PORT), None)
    if node_port:
        for node in nodes:
            for address in (node.get("status") or {}).get("addresses") or []:
                if address.get("type") == "ExternalIP":
                    return address["address"], node_port, "node ExternalIP and NodePort"
    return None


# The gateway Service not read yet (None is a Service that does not exist).
UNREAD = object()


def read_gateway(client, namespace, name, service=UNREAD):
    """(Service, {"address", "port", "source"}) of a cluster's gateway Service; (None, None) when the
    Service does not exist, (Service, None) when it has no address yet. Nodes are listed only when
    the Service has node ports. service: the Service as the caller read it already (or None)."""
    if service is UNREAD:
        service = client.get("Service", name, namespace)
    if service is None:
        return None, None
    nodes = client.list("Node") if (service.get("spec") or {}).get("type") in ("NodePort", "LoadBalancer") else []
    found = gateway_address(service, nodes)
    return service, dict(zip(("address", "port", "source"), found)) if found else None


OVERRIDE_SOURCE = "mesh_gateway_address_override"


def resolve_gateway(client, namespace, name, address_override="", service=UNREAD):
    """The one answer to "where do other clusters reach this gateway": (found, problem).

    found is {"address", "port", "source"}: the override when one is given (nothing is read),
    else what read_gateway discovers (from `service` when the caller read it already); problem says
    why there is none ("" when found).
    """
    if address_override:
        return {"address": address_override, "port": GATEWAY_PORT, "source": OVERRIDE_SOURCE}, ""
    service, found = read_gateway(client, namespace, name, service)
    if service is None:
        return None, "Service %s/%s does not exist" % (namespace, name)
    if found is None:
        return None, ("Service %s/%s has no address (no load balancer IP or hostname, no externalIP, no node "
                      "ExternalIP with a NodePort for %d)" % (namespace, name, GATEWAY_PORT))
    return found, ""
