# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ServiceEntry distribution: which Services are exported, what every cluster must hold, and
what a cluster has to change to get there.

Every exported Service `<name>.<namespace>` becomes the host `<name>.<namespace>.global` with one
stable VIP. Clusters that do not run it reach it through the exporting clusters' gateways (every
port mapped to the gateway's 15443); a cluster that runs it points the host at its local Service,
so that its gateway can route the `.global` SNI (Admiral's approach). Beside each ServiceEntry a
DestinationRule of the same name sets Istio mutual TLS, outlier detection and locality failover.

Pure functions: no cluster access, no Ansible.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.meshops.multicluster.plugins.module_utils import reconcile
from ansible_collections.meshops.multicluster.plugins.module_utils.k8s import MANAGED_BY_LABEL, MANAGED_BY, managed_labels
from ansible_collections.meshops.multicluster.plugins.module_utils.vip_allocation import (
    COMPONENT, COMPONENT_LABEL, DEFAULT_RANGE, AllocationError, parse_range, plan_stores)

EXPORT_LABEL = "multicluster.meshops.io/export"
SERVICE_LABEL = "multicluster.meshops.io/service"
SERVICE_NAMESPACE_LABEL = "multicluster.meshops.io/service-namespace"
EXPORTED_FROM_ANNOTATION = "multicluster.meshops.io/exported-from"
TLS_MODE_LABEL = "security.istio.io/tlsMode"
HOST_SUFFIX = "global"
GATEWAY_PORT = 15443
NAMESPACE_MODES = ("replicate", "single")
# How calls to a host exported from several clusters are spread (mesh_services_failover):
# locality - Istio's locality load balancing: endpoints of the client's own locality first, then
# its region, then the rest; it acts only with outlier detection, which every rule sets.
# none - no priorities: calls are spread over every endpoint; outlier detection still ejects.
FAILOVER_MODES = ("locality", "none")
# Outlier detection of every rule (mesh_services_outlier_*), as a platform engineer would start:
# eject an endpoint after 5 consecutive errors (connection failures count for TCP), checked every
# 10 s, for 30 s times the number of ejections; all endpoints of a priority may be ejected, which is
# what lets the calls fail over to the next one.
OUTLIER_DEFAULTS = {"consecutive_errors": 5, "interval": "10s", "base_ejection_time": "30s",
                    "max_ejection_percent": 100}
DURATION = re.compile(r"^([0-9]+)(ms|s|m|h)$")
# What this step owns: only these objects are ever updated or pruned.
OWNED_SELECTOR = "%s=%s,%s=%s" % (MANAGED_BY_LABEL, MANAGED_BY, COMPONENT_LABEL, COMPONENT)

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

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# A ServiceEntry endpoint's port map keys: shorter than 63 characters (Istio's CRD rule).
PORT_NAME = re.compile(r"^[a-zA-Z0-9]([-a-zA-Z0-9]{0,60}[a-zA-Z0-9])?$")


class PlanError(ValueError):
    """Bad input; the message lists every problem found, each with the fix."""


def host_of(name, namespace):
    return "%s.%s.%s" % (name, namespace, HOST_SUFFIX)


def _dns_name_problems(what, value):
    labels = str(value).split(".")
    if len(str(value)) > 253:
        return ["%s %s is %d characters long; DNS names have at most 253" % (what, value, len(str(value)))]
    return ["%s %s: label %r is not a DNS label (lower case letters, digits and '-', at most 63 characters)"
            % (what, value, label) for label in labels if len(label) > 63 or not DNS_LABEL.match(label)]


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


def service_export(service):
    """What a Service exports: {"name", "namespace", "ports": [{"name", "number", "protocol"}]}.

    Raises PlanError naming every port that a ServiceEntry cannot carry.
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
            ports.append({"name": port["name"], "number": port["port"], "protocol": protocol})
    if problems:
        raise PlanError("\n".join(problems))
    return {"name": meta["name"], "namespace": meta["namespace"], "ports": ports}


def parse_exported(items):
    """Inventory entries "namespace/name" as (namespace, name) pairs; PlanError for bad ones."""
    pairs, problems = [], []
    for item in items or []:
        namespace, _slash, name = str(item).partition("/")
        if not (DNS_LABEL.match(namespace) and DNS_LABEL.match(name)) or len(namespace) > 63 or len(name) > 63:
            problems.append("mesh_services_exported entry %r is not <namespace>/<service name> (DNS labels)" % (item,))
        else:
            pairs.append((namespace, name))
    if problems:
        raise PlanError("\n".join(problems))
    return pairs


def select_exports(services, exported=(), label=EXPORT_LABEL):
    """Exports of the Services that carry `label: "true"` or are named in `exported`.

    Returns (exports sorted by namespace/name, names in `exported` with no Service). Raises
    PlanError listing every Service whose ports cannot be exported.
    """
    wanted = set(parse_exported(exported))
    exports, problems, found = [], [], set()
    for service in services:
        meta = service["metadata"]
        key = (meta["namespace"], meta["name"])
        if key in wanted or (meta.get("labels") or {}).get(label) == "true":
            found.add(key)
            try:
                exports.append(service_export(service))
            except PlanError as exc:
                problems.append(str(exc))
    if problems:
        raise PlanError("\n".join(problems))
    exports.sort(key=lambda export: (export["namespace"], export["name"]))
    return exports, ["%s/%s" % key for key in sorted(wanted - found)]


def _port_problems(what, ports):
    problems = []
    if not ports:
        problems.append("%s has no ports to export" % what)
    for port in ports:
        if not PORT_NAME.match(str(port.get("name") or "")):
            problems.append("%s port name %r is not valid in a ServiceEntry (letters, digits, '-', at most 62 characters)"
                            % (what, port.get("name")))
        if not isinstance(port.get("number"), int) or not 0 < port["number"] <= 65535:
            problems.append("%s port %s: number %r is not in 1-65535" % (what, port.get("name"), port.get("number")))
        if port.get("protocol") not in PROTOCOLS.values():
            problems.append("%s port %s: protocol %r is not one of %s"
                            % (what, port.get("name"), port.get("protocol"), ", ".join(PROTOCOLS.values())))
    return problems


def _merge_ports(what, ports, other, other_cluster):
    """Union of two clusters' port lists for one host; problems if they contradict each other."""
    by_name = {port["name"]: port for port in ports}
    by_number = {port["number"]: port for port in ports}
    problems = []
    for port in other:
        same = by_name.get(port["name"]) or by_number.get(port["number"])
        if same is None:
            by_name[port["name"]] = by_number[port["number"]] = port
        elif same != port:
            problems.append("%s is exported with port %s/%s/%s by %s but %s/%s/%s elsewhere; make the Services' ports agree"
                            % (what, port["name"], port["number"], port["protocol"], other_cluster,
                               same["name"], same["number"], same["protocol"]))
    return sorted(by_name.values(), key=lambda port: port["number"]), problems


def _gateway_problems(cluster):
    address, port = cluster.get("gateway_address"), cluster.get("gateway_port") or GATEWAY_PORT
    what = "cluster %s" % cluster["name"]
    if not address:
        return ["%s exports %s but has no gateway address: run the control plane step (fact mesh_gateway_address) "
                "or set mesh_gateway_address_override for it"
                % (what, ", ".join("%s/%s" % (e["namespace"], e["name"]) for e in cluster["exports"]))]
    problems = [] if isinstance(port, int) and 0 < port <= 65535 else ["%s: gateway port %r is not in 1-65535" % (what, port)]
    try:
        ipaddress.ip_address(address)
    except ValueError:
        problems += _dns_name_problems("%s: gateway address" % what, address)
    return problems


def _collect(clusters):
    """({host: service}, problems) where service = {name, namespace, ports, clusters}."""
    problems, services, names = [], {}, set()
    for cluster in clusters:
        name = cluster.get("name")
        if not name or name in names:
            problems.append("cluster name %r is %s; every cluster needs its own name" % (name, "repeated" if name else "empty"))
        names.add(name)
        exports = cluster.get("exports") or []
        if exports:
            problems += _gateway_problems(cluster)
        for export in exports:
            host = host_of(export["name"], export["namespace"])
            what = "cluster %s: Service %s/%s" % (name, export["namespace"], export["name"])
            problems += _dns_name_problems("%s: host" % what, host) + _port_problems(what, export.get("ports") or [])
            service = services.setdefault(host, {"name": export["name"], "namespace": export["namespace"],
                                                 "ports": [], "clusters": []})
            service["ports"], conflicts = _merge_ports("host " + host, service["ports"], export.get("ports") or [], name)
            problems += conflicts
            if name not in service["clusters"]:
                service["clusters"].append(name)
    for service in services.values():
        service["clusters"].sort()
    return services, problems


def traffic_policy(failover="locality", **outlier):
    """The DestinationRules' policy from the mesh_services_failover / mesh_services_outlier_* values.

    Raises PlanError naming each variable with a bad value.
    """
    values = dict(OUTLIER_DEFAULTS, **{k: v for k, v in outlier.items() if v is not None})
    problems = []
    if failover not in FAILOVER_MODES:
        problems.append("mesh_services_failover %r is not one of %s" % (failover, ", ".join(FAILOVER_MODES)))
    for key, low, high in (("consecutive_errors", 1, 1000), ("max_ejection_percent", 0, 100)):
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            problems.append("mesh_services_outlier_%s %r is not a whole number from %d to %d" % (key, value, low, high))
    for key in ("interval", "base_ejection_time"):
        match = DURATION.match(str(values[key]))
        if not match or int(match.group(1)) == 0:
            problems.append("mesh_services_outlier_%s %r is not a duration such as 10s, 500ms, 5m or 1h"
                            % (key, values[key]))
    if problems:
        raise PlanError("\n".join(problems))
    return dict(values, failover=failover)


def _endpoint(address, ports, locality, port=None):
    endpoint = {"address": address,
                "ports": {p["name"]: port or p["number"] for p in ports},
                "labels": {TLS_MODE_LABEL: "istio"}}
    if locality:
        endpoint["locality"] = locality
    return endpoint


def render_entry(service, endpoints, namespace):
    """The ServiceEntry object for one planned service (host, vip, ...) in one cluster."""
    host = service["host"]
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {
            "name": host,
            "namespace": namespace,
            "labels": managed_labels({COMPONENT_LABEL: COMPONENT, SERVICE_LABEL: service["name"],
                                      SERVICE_NAMESPACE_LABEL: service["namespace"]}),
            "annotations": {EXPORTED_FROM_ANNOTATION: ",".join(service["clusters"])},
        },
        "spec": {
            "hosts": [host],
            "location": "MESH_INTERNAL",
            "ports": [dict(port) for port in service["ports"]],
            "resolution": "DNS",
            "addresses": [service["vip"]],
            "endpoints": endpoints,
        },
    }


def plan(clusters, vip_range=DEFAULT_RANGE, namespace_mode="replicate", namespace="istio-system",
         cluster_domain="cluster.local", unavailable=(), policy=None):
    """The desired state of the whole fleet, computed once, in compact form (render_entries makes
    one cluster's ServiceEntries from it).

    clusters: [{"name", "exports" (from select_exports), "gateway_address", "gateway_port"
    (default 15443), "locality", "vip_store" (vip_allocation.store_from_configmap)}].
    unavailable: names of the fleet's clusters that could not be read: what they export is
    unknown, so every VIP allocated now is kept, and the writers keep the ServiceEntries exported
    from them (see reconcile_entries).
    policy: traffic_policy() of the DestinationRules (the defaults when None).
    Returns {"allocations": {host: vip}, "generation", "warnings", "unavailable",
    "services": [{"host", "vip", "name", "namespace", "ports", "clusters"}],
    "gateways": {cluster: {"address", "port", "locality"}}, "layout": {"namespace_mode",
    "namespace", "cluster_domain"}, "policy": {...}, "clusters": {name: {"vip_store": {...}}}}.
    Raises PlanError (every problem at once) before anything could be written.
    """
    problems = []
    both = sorted(set(unavailable) & {c.get("name") for c in clusters})
    if both:
        problems.append("cluster(s) %s are both read and unavailable" % ", ".join(both))
    if namespace_mode not in NAMESPACE_MODES:
        problems.append("mesh_services_namespace_mode %r is not one of %s" % (namespace_mode, ", ".join(NAMESPACE_MODES)))
    if namespace_mode == "single" and not DNS_LABEL.match(str(namespace or "")):
        problems.append("mesh_services_namespace %r is not a namespace name (DNS label)" % (namespace,))
    problems += _dns_name_problems("mesh_services_cluster_domain", cluster_domain)
    services, found = _collect(clusters)
    problems += found
    try:
        parse_range(vip_range)
    except AllocationError as exc:
        problems.append(str(exc))
    if problems:
        raise PlanError("\n".join(problems))
    try:
        allocations, generation, stores, warnings = plan_stores(
            {c["name"]: c.get("vip_store") for c in clusters}, services, vip_range, keep_allocated=bool(unavailable))
    except AllocationError as exc:
        raise PlanError(str(exc))
    if unavailable:
        warnings.append("cluster(s) %s could not be read: the ServiceEntries they export are kept as they are, and "
                        "no VIP is freed, until a run reads them again" % ", ".join(sorted(unavailable)))
    return {
        "allocations": allocations, "generation": generation, "warnings": warnings, "unavailable": sorted(unavailable),
        "services": [dict(service, host=host, vip=allocations[host]) for host, service in sorted(services.items())],
        "gateways": {c["name"]: {"address": c.get("gateway_address") or "", "port": c.get("gateway_port") or GATEWAY_PORT,
                                 "locality": c.get("locality") or ""} for c in clusters},
        "layout": {"namespace_mode": namespace_mode, "namespace": namespace, "cluster_domain": cluster_domain},
        "policy": policy or traffic_policy(),
        "clusters": {c["name"]: {"vip_store": stores[c["name"]]} for c in clusters},
    }


def render_destination_rule(service, namespace, policy):
    """The DestinationRule beside a service's ServiceEntry: mutual TLS, outlier detection, failover."""
    entry = render_entry(service, [], namespace)
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": entry["metadata"],
        "spec": {
            "host": service["host"],
            "trafficPolicy": {
                "tls": {"mode": "ISTIO_MUTUAL"},
                "loadBalancer": {"localityLbSetting": {"enabled": policy["failover"] == "locality"}},
                "outlierDetection": {
                    "consecutive5xxErrors": policy["consecutive_errors"],
                    "interval": policy["interval"],
                    "baseEjectionTime": policy["base_ejection_time"],
                    "maxEjectionPercent": policy["max_ejection_percent"],
                },
            },
        },
    }


def _check_cluster(fleet_plan, cluster):
    if cluster not in fleet_plan["gateways"]:
        raise PlanError("cluster %s is not in the plan (planned: %s)" % (cluster, ", ".join(sorted(fleet_plan["gateways"]))))


def _target_namespace(service, layout):
    return service["namespace"] if layout["namespace_mode"] == "replicate" else layout["namespace"]


def render_entries(fleet_plan, cluster):
    """The ServiceEntries that `cluster` must hold according to a plan() result."""
    _check_cluster(fleet_plan, cluster)
    gateways, layout = fleet_plan["gateways"], fleet_plan["layout"]
    entries = []
    for service in fleet_plan["services"]:
        local = cluster in service["clusters"]
        endpoints = [_endpoint("%s.%s.svc.%s" % (service["name"], service["namespace"], layout["cluster_domain"]),
                               service["ports"], gateways[cluster]["locality"])] if local else []
        endpoints += [_endpoint(gateways[other]["address"], service["ports"], gateways[other]["locality"],
                                gateways[other]["port"])
                      for other in service["clusters"] if other != cluster]
        entries.append(render_entry(service, endpoints, _target_namespace(service, layout)))
    return entries


def render_destination_rules(fleet_plan, cluster):
    """The DestinationRules that `cluster` must hold: one beside each of its ServiceEntries."""
    _check_cluster(fleet_plan, cluster)
    policy = fleet_plan.get("policy") or traffic_policy()
    return [render_destination_rule(service, _target_namespace(service, fleet_plan["layout"]), policy)
            for service in fleet_plan["services"]]


# --- what one cluster must change ------------------------------------------------------------

def is_owned(obj):
    """Made by this step: managed by the collection and labelled as the services component."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY_LABEL) == MANAGED_BY and labels.get(COMPONENT_LABEL) == COMPONENT


def spec_differs(desired, live):
    """True when a spec field we set is not exactly ours in `live` (reconcile.plan compares as a
    subset, which misses an endpoint field we stopped setting); fields others add are left alone."""
    live_spec = live.get("spec") or {}
    return any(value != live_spec.get(field) for field, value in desired["spec"].items())


def _clashes(desired, live):
    """Messages for others' ServiceEntries that hold one of our names, hosts or VIPs, and others'
    DestinationRules that hold one of our names."""
    wanted = {reconcile.object_key(obj) for obj in desired}
    hosts = {host for obj in desired for host in obj["spec"].get("hosts") or []}
    vips = {vip for obj in desired for vip in obj["spec"].get("addresses") or []}
    messages = []
    for obj in live:
        if is_owned(obj):
            continue
        if obj["kind"] == "DestinationRule":
            if reconcile.object_key(obj) in wanted:
                messages.append("%s is not managed by %s but has the name this step needs; remove it or stop "
                                "exporting that service" % (reconcile.key_name(reconcile.object_key(obj)), MANAGED_BY))
            continue
        spec, key = obj.get("spec") or {}, reconcile.object_key(obj)
        clash = (["its name"] if key in wanted else []) \
            + ["host %s" % host for host in spec.get("hosts") or [] if host in hosts] \
            + ["address %s" % vip for vip in spec.get("addresses") or [] if vip in vips]
        if clash:
            messages.append("%s is not managed by %s but has %s, which this step needs; remove it or stop "
                            "exporting that service" % (reconcile.key_name(key), MANAGED_BY, ", ".join(clash)))
    return sorted(messages)


def exported_from(obj):
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return set(filter(None, (annotations.get(EXPORTED_FROM_ANNOTATION) or "").split(",")))


def shadowing_rules(desired, live):
    """Warnings for others' DestinationRules on one of our hosts: Istio applies only one rule per
    host (the oldest), so theirs or ours is silently ignored."""
    hosts = {obj["spec"]["host"]: obj for obj in desired if obj["kind"] == "DestinationRule"}
    return sorted("%s of someone else also sets host %s: Istio applies only one of it and %s"
                  % (reconcile.key_name(reconcile.object_key(obj)), obj["spec"]["host"],
                     reconcile.key_name(reconcile.object_key(hosts[obj["spec"]["host"]])))
                  for obj in live if obj["kind"] == "DestinationRule" and not is_owned(obj)
                  and (obj.get("spec") or {}).get("host") in hosts
                  and reconcile.object_key(obj) != reconcile.object_key(hosts[obj["spec"]["host"]]))


def reconcile_entries(desired, live, prune=True, keep_exported_from=()):
    """What a cluster must do to hold exactly `desired` of our ServiceEntries and DestinationRules.

    live: every ServiceEntry and DestinationRule of the cluster (ours and others', one list per
    kind; a live object without kind is a ServiceEntry). Returns a reconcile.Plan whose conflicts
    are messages: others' ServiceEntries that hold one of our names, hosts or VIPs, others'
    DestinationRules of one of our names (reported, never overwritten). Only this step's own
    objects are pruned. Ours exported from a cluster in keep_exported_from (one that could not be
    read) are left as they are, neither updated nor pruned: they are the plan's `kept`.
    """
    for obj in live:
        obj.setdefault("kind", "ServiceEntry")
    keep = set(keep_exported_from)
    kept = [obj for obj in live if keep and is_owned(obj) and exported_from(obj) & keep]
    kept_keys = {reconcile.object_key(obj) for obj in kept}
    desired = [obj for obj in desired if reconcile.object_key(obj) not in kept_keys]
    live = [obj for obj in live if reconcile.object_key(obj) not in kept_keys]
    changes = reconcile.plan(desired, live, prune=prune, prune_match=is_owned)
    changes.kept = kept
    live_by_key = {reconcile.object_key(obj): obj for obj in live}
    for obj in list(changes.unchanged):
        current = live_by_key[reconcile.object_key(obj)]
        if spec_differs(obj, current):
            changes.unchanged.remove(obj)
            changes.update.append((obj, current))
    changes.conflicts = _clashes(desired, live)
    return changes


def namespace_object(name):
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": managed_labels({COMPONENT_LABEL: COMPONENT})}}


def reconcile_namespaces(desired, live, prune=True):
    """The namespaces `desired` entries need that are missing, and ours no entry needs any more.

    Returns a reconcile.Plan (create, delete; conflicts are messages). A namespace made by
    someone else is used as it is, never labelled or deleted.
    """
    needed = {obj["metadata"]["namespace"] for obj in desired}
    live_by_name = {ns["metadata"]["name"]: dict(ns, kind="Namespace") for ns in live}
    changes = reconcile.Plan()
    changes.create = [namespace_object(name) for name in sorted(needed - set(live_by_name))]
    changes.delete = [ns for name, ns in sorted(live_by_name.items()) if prune and is_owned(ns) and name not in needed]
    changes.conflicts = ["namespace %s is being deleted; re-run when it is gone" % name for name in sorted(needed)
                         if (live_by_name.get(name, {}).get("status") or {}).get("phase") == "Terminating"]
    return changes
