# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet's plan of the services step, computed once for every cluster: each exported host
with its stable VIP, ports and exporting clusters (and where they export it), every gateway, what
each cluster imports, the namespace layout and the DestinationRules' traffic policy. Each cluster
renders its own objects from it (render.py); shapes.py names the parts. Pure functions: no cluster access, no Ansible.
"""

from __future__ import annotations

import json
import re

from ansible_collections.meshops.multicluster.plugins.module_utils._services.selection import (
    check_export_to, check_import_from, group_members, referenced_groups)
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.validation import label_error, name_errors, parse_ip
from ansible_collections.meshops.multicluster.plugins.module_utils._services.exports import PROTOCOLS, PlanError
from ansible_collections.meshops.multicluster.plugins.module_utils._services.shapes import (
    ClusterInput, ClusterStore, FleetPlan, Gateway, Layout, PlannedCluster, PlannedService, Selection, StoreVersion,
    TrafficPolicy)
from ansible_collections.meshops.multicluster.plugins.module_utils._services.vips import (
    DEFAULT_RANGE, AllocationError, parse_range, plan_stores)
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import GATEWAY_PORT, ISTIO_NAMESPACE, ZONE

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
DURATION = re.compile(r"([0-9]+)(ms|s|m|h)")
# A ServiceEntry endpoint's port map keys: shorter than 63 characters (Istio's CRD rule).
PORT_NAME = re.compile(r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,60}[a-zA-Z0-9])?")


def host_of(name: str, namespace: str) -> str:
    return "%s.%s.%s" % (name, namespace, ZONE)


def _dns_name_problems(what, value):
    return ["%s %s: %s" % (what, value, why) for why in name_errors(value)]


def _port_problems(what, ports):
    problems = []
    if not ports:
        problems.append("%s has no ports to export" % what)
    for port in ports:
        if not PORT_NAME.fullmatch(str(port.get("name") or "")):
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
        parse_ip(address)
    except ValueError:
        problems += _dns_name_problems("%s: gateway address" % what, address)
    return problems


def _export_problems(cluster, what, host, export):
    """What is wrong with one export in its owner's hands: its ports (as mesh_services_info found
    them, or as given) and the host its name makes."""
    found = ["cluster %s: %s" % (cluster, why) for why in export.get("problems") or []]
    return _dns_name_problems("%s: host" % what, host) + (found or _port_problems(what, export.get("ports") or []))


def _collect(clusters, fleet_names, groups):
    """({host: service}, {host: [why held]}, problems, warnings) where service = {name, namespace,
    ports, clusters} and, when an exporter narrows it, export_to = {exporter: selectors};
    fleet_names and groups ({group: [clusters]}) are what the selectors may name.

    A host whose Service has a bad value in one of its exporters (ports, a malformed export-to
    annotation, ports that contradict another exporter's) is held: not in the services, its
    messages in the second result. problems: only the inventory's own (cluster names, gateways)."""
    problems, warnings, services, held, names = [], [], {}, {}, set()
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
            wrong = _export_problems(name, what, host, export)
            if export.get("export_to") is not None:
                selectors, malformed, unknown = check_export_to(what, export["export_to"], fleet_names, groups)
                wrong += malformed
                warnings += unknown
            service = services.setdefault(host, {"name": export["name"], "namespace": export["namespace"],
                                                 "ports": [], "clusters": []})
            if not wrong:
                service["ports"], wrong = _merge_ports("host " + host, service["ports"], export["ports"], name)
            if wrong:
                held.setdefault(host, []).extend(wrong)
                continue
            if name not in service["clusters"]:
                service["clusters"].append(name)
            if export.get("export_to") is not None:
                service.setdefault("export_to", {})[name] = selectors
    for host in held:
        services.pop(host, None)
    for service in services.values():
        service["clusters"].sort()
    return services, held, problems, warnings


def _held_warnings(held):
    """One warning per reason a host is held back, saying what that means."""
    return ["%s; host %s keeps its current ServiceEntries and DestinationRules in every cluster (none created, "
            "updated or removed) until this is fixed" % (why, host) for host, reasons in sorted(held.items())
            for why in reasons]


def _store_problems(clusters, vip_stores):
    """VIP stores as mesh_services_info reads them: each with its fingerprint, the full ones with
    their allocations too."""
    problems = ["clusters[%s].vip_store has no digest; expected the vip_store of mesh_services_info" % c.get("name")
                for c in clusters if c.get("vip_store") and "digest" not in c["vip_store"]]
    problems += ["vip_stores[%d] has no %s; expected the vip_store of mesh_services_info with vip_store_allocations"
                 % (index, " and no ".join(key for key in ("digest", "allocations") if key not in store))
                 for index, store in enumerate(vip_stores) if "digest" not in store or "allocations" not in store]
    return problems


def _import_filters(clusters, fleet_names):
    """({cluster: what it imports} of the clusters that narrow it, problems)."""
    filters, problems = {}, []
    for cluster in clusters:
        wanted, found = check_import_from(cluster, fleet_names)
        problems += found
        if wanted:
            filters[cluster.get("name")] = wanted
    return filters, problems


def traffic_policy(failover="locality", **outlier) -> TrafficPolicy:
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
        match = DURATION.fullmatch(str(values[key]))
        if not match or int(match.group(1)) == 0:
            problems.append("mesh_services_outlier_%s %r is not a duration such as 10s, 500ms, 5m or 1h"
                            % (key, values[key]))
    if problems:
        raise PlanError("\n".join(problems))
    return TrafficPolicy(**values, failover=failover)


def plan_fleet(clusters: list[ClusterInput], vip_range: str = DEFAULT_RANGE, namespace_mode: str = "replicate",
               namespace: str = ISTIO_NAMESPACE, cluster_domain: str = "cluster.local", unavailable=(),
               policy: TrafficPolicy | None = None, cluster_groups: dict[str, list[str]] | None = None,
               vip_stores=()) -> FleetPlan:
    """The desired state of the whole fleet, computed once, in compact form (render_entries makes
    one cluster's ServiceEntries from it); shapes.FleetPlan names its parts.

    clusters: each cluster's exports (from select_exports), gateway (port default 15443), locality,
    VIP store as read (vips.store_from_configmap, or its store_summary) and what it imports
    (import_from_*: empty, everything).
    unavailable: names of the fleet's clusters that could not be read: what they export is
    unknown, so every VIP allocated now is kept, and the writers keep the ServiceEntries exported
    from them (see reconcile_entries).
    policy: traffic_policy() of the DestinationRules (the defaults when None).
    cluster_groups: {cluster: its inventory groups} of every cluster, read or not: what the
    export-to annotations' group:<name> may name.
    vip_stores: stores read in full from the clusters vips.stores_to_read names.
    The allocation is not repeated per cluster (each cluster's part is only the version of the
    store read there, the precondition of writing the allocations and generation there:
    cluster_store), so the plan, and what every writer receives, grows with hosts + clusters.
    VIPs and DNS records stay fleet-wide: the selection only decides which clusters hold a host's
    ServiceEntry (selection.ImportView).
    "held": {host: [why]} - hosts whose Service has a bad value its owner controls (ports, a
    malformed export-to annotation, ports that contradict another exporter's): they are not in
    "services", keep their current VIP (none is allocated for a new one), and every writer keeps
    their current objects as they are (like those of unavailable clusters); each reason is also a
    warning naming the cluster, the Service and the value. A name in an export-to annotation that
    is not a cluster or group of the inventory is left out with a warning.
    Raises PlanError (every problem at once) for bad inventory input, before anything could be
    written; nothing a Service's owner controls fails the plan.
    """
    problems = []
    both = sorted(set(unavailable) & {c.get("name") for c in clusters})
    if both:
        problems.append("cluster(s) %s are both read and unavailable" % ", ".join(both))
    if namespace_mode not in NAMESPACE_MODES:
        problems.append("mesh_services_namespace_mode %r is not one of %s" % (namespace_mode, ", ".join(NAMESPACE_MODES)))
    if namespace_mode == "single" and label_error(namespace):
        problems.append("mesh_services_namespace %r %s: a namespace name is a DNS-1123 label"
                        % (namespace, label_error(namespace)))
    problems += _dns_name_problems("mesh_services_cluster_domain", cluster_domain)
    fleet_names = {c["name"] for c in clusters if c.get("name")} | set(unavailable)
    groups = group_members(cluster_groups)
    services, held, found, warnings = _collect(clusters, fleet_names, groups)
    problems += found
    import_from, found = _import_filters(clusters, fleet_names)
    problems += found
    problems += _store_problems(clusters, vip_stores)
    try:
        parse_range(vip_range)
    except AllocationError as exc:
        problems.append(str(exc))
    if problems:
        raise PlanError("\n".join(problems))
    try:
        allocations, generation, versions, found = plan_stores(
            {c["name"]: c.get("vip_store") for c in clusters}, services, vip_range,
            keep_allocated=True if unavailable else held, contents=vip_stores)
    except AllocationError as exc:
        raise PlanError(str(exc))
    warnings += found + _held_warnings(held)
    if unavailable:
        warnings.append("cluster(s) %s could not be read: the ServiceEntries they export are kept as they are, and "
                        "no VIP is freed, until a run reads them again" % ", ".join(sorted(unavailable)))
    services_planned: list[PlannedService] = [
        dict(service, host=host, vip=allocations[host]) for host, service in sorted(services.items())]
    return FleetPlan(
        allocations=allocations, generation=generation, warnings=warnings, unavailable=sorted(unavailable), held=held,
        services=services_planned,
        gateways={c["name"]: Gateway(address=c.get("gateway_address") or "", port=c.get("gateway_port") or GATEWAY_PORT,
                                     locality=c.get("locality") or "") for c in clusters},
        selection=Selection(groups=referenced_groups(services.values(), groups), import_from=import_from),
        layout=Layout(namespace_mode=namespace_mode, namespace=namespace, cluster_domain=cluster_domain),
        policy=policy or traffic_policy(),
        clusters={name: PlannedCluster(vip_store=StoreVersion(resource_version=version)) for name, version in versions.items()},
    )


def refused(exc: MeshError) -> PlanError:
    """The error service_entry_plan fails with when the plan cannot be made: each problem of `exc`
    on a line of its own, under one heading."""
    return PlanError("the ServiceEntry plan has problems; nothing was written:\n- " + str(exc).replace("\n", "\n- "),
                     field=exc.field, fix=exc.fix, partial=exc.partial)


def to_text(fleet_plan: FleetPlan) -> str:
    """The plan as it travels from service_entry_plan to every writer: compact JSON text. Ansible
    hands text on as it is, where a structure of this size (15 MB at 100 clusters x 300 Services)
    is walked, copied and scrubbed for secrets by every task that returns or receives it."""
    return json.dumps(fleet_plan, separators=(",", ":"))


def from_text(value) -> FleetPlan:
    """A plan from to_text(), or the same plan as a structure (written by hand, as in a test)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        raise PlanError("plan is not the JSON text of a service_entry_plan result (%s)" % exc)


def cluster_store(fleet_plan: FleetPlan, cluster: str) -> ClusterStore:
    """The VIP store `cluster` must hold.
    Raises KeyError when the plan has no such cluster."""
    return ClusterStore(allocations=fleet_plan["allocations"], generation=fleet_plan["generation"],
                        resource_version=fleet_plan["clusters"][cluster]["vip_store"].get("resource_version") or "")
