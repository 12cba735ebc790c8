# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which Services a cluster exports to the mesh, and what each exports: its routable ports.

A Service is exported when it carries the export label (`"true"`) or the inventory names it
(`mesh_services_exported`). Each port needs a protocol Istio can carry through a gateway's mTLS
port. Its export-to annotation, which narrows the clusters that import it, is passed on as written:
the fleet plan checks it against the inventory (selection.py). A Service's ports and
annotation are its owner's input: what is wrong with them is passed on with the export (its
`problems`), and the fleet plan holds back that one Service; only the inventory's list of exported
Services fails. Pure functions: no cluster access, no Ansible.
"""

from __future__ import annotations

from ansible_collections.meshops.multicluster.plugins.module_utils._common.validation import label_error
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._services.shapes import Export, Port

EXPORT_LABEL = "multicluster.meshops.io/export"
# Which clusters import an exported Service: "cluster2,group:eu" (absent: every cluster).
EXPORT_TO_ANNOTATION = "multicluster.meshops.io/export-to"

# Port name prefixes (and appProtocol values) Istio understands and can carry through a gateway's
# mTLS port, spelled as a ServiceEntry port protocol. UDP cannot cross it.
PROTOCOLS = {
    "http": "HTTP", "http2": "HTTP2", "https": "HTTPS", "grpc": "GRPC", "grpc-web": "GRPC-WEB",
    "tcp": "TCP", "tls": "TLS", "mongo": "MONGO", "redis": "REDIS", "mysql": "MYSQL",
}
# appProtocol values Kubernetes itself defines, as Istio reads them.
K8S_APP_PROTOCOLS = {"kubernetes.io/h2c": "HTTP2", "kubernetes.io/ws": "HTTP", "kubernetes.io/wss": "HTTPS"}
# Istio treats unnamed-protocol ports on these numbers as TCP (SMTP, DNS, MySQL, MongoDB).
WELL_KNOWN_TCP_PORTS = (25, 53, 3306, 27017)


class PlanError(MeshError, ValueError):
    """Bad input; the message lists every problem found, each with the fix."""


def port_protocol(port):
    """The ServiceEntry protocol of a Service port, as Istio derives it, or None if unroutable."""
    if (port.get("protocol") or "TCP") != "TCP":
        return None
    app_protocol = port.get("appProtocol")
    if app_protocol in K8S_APP_PROTOCOLS:
        return K8S_APP_PROTOCOLS[app_protocol]
    name = (app_protocol or port.get("name") or "").lower()
    prefix = "grpc-web" if name.startswith("grpc-web") else name.split("-", 1)[0]
    if prefix in PROTOCOLS:
        return PROTOCOLS[prefix]
    if port.get("port") in WELL_KNOWN_TCP_PORTS and not app_protocol:
        return "TCP"
    return None


def service_export(service) -> Export:
    """What a Service exports: its name, namespace and routable ports, "export_to" (its export-to
    annotation, unchecked) when it has one, and "problems" (one message per port a ServiceEntry
    cannot carry, naming the Service, the port and what is expected) when there are any: such a
    Service is held back by the fleet plan.
    """
    meta = service["metadata"]
    what = "Service %s/%s" % (meta["namespace"], meta["name"])
    ports, problems = [], []
    for port in (service.get("spec") or {}).get("ports") or []:
        protocol = port_protocol(port)
        if not port.get("name"):
            problems.append("%s port %s has no name; ServiceEntry ports need one: name it <protocol>[-<suffix>], "
                            "e.g. http-web" % (what, port.get("port")))
        elif protocol is None:
            problems.append("%s port %s (%s, %s%s) has no protocol Istio can route through the gateway; "
                            "expected a TCP port named or with appProtocol %s"
                            % (what, port["name"], port.get("port"), port.get("protocol") or "TCP",
                               ", appProtocol " + port["appProtocol"] if port.get("appProtocol") else "",
                               "|".join(PROTOCOLS)))
        else:
            ports.append(Port(name=port["name"], number=port["port"], protocol=protocol))
    export = Export(name=meta["name"], namespace=meta["namespace"], ports=ports)
    export_to = (meta.get("annotations") or {}).get(EXPORT_TO_ANNOTATION)
    if export_to is not None:
        export["export_to"] = export_to
    if problems:
        export["problems"] = problems
    return export


def parse_exported(items):
    """Inventory entries "namespace/name" as (namespace, name) pairs; PlanError for bad ones."""
    pairs, problems = [], []
    for item in items or []:
        namespace, _slash, name = str(item).partition("/")
        if label_error(namespace) or label_error(name):
            problems.append("mesh_services_exported entry %r is not <namespace>/<service name> (DNS labels)" % (item,))
        else:
            pairs.append((namespace, name))
    if problems:
        raise PlanError("\n".join(problems))
    return pairs


def select_exports(services, exported=(), label=EXPORT_LABEL) -> tuple[list[Export], list[str]]:
    """Exports of the Services that carry `label: "true"` or are named in `exported`.

    Returns (exports sorted by namespace/name, names in `exported` with no Service); an export
    whose ports cannot be exported carries its "problems". Raises PlanError only for a bad entry
    of `exported` (inventory input).
    """
    wanted = set(parse_exported(exported))
    exports, found = [], set()
    for service in services:
        meta = service["metadata"]
        key = (meta["namespace"], meta["name"])
        if key in wanted or (meta.get("labels") or {}).get(label) == "true":
            found.add(key)
            exports.append(service_export(service))
    exports.sort(key=lambda export: (export["namespace"], export["name"]))
    return exports, ["%s/%s" % key for key in sorted(wanted - found)]
