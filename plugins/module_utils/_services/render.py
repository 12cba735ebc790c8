# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one cluster holds of the services step: its ServiceEntries and DestinationRules rendered
from the fleet's plan, and what it must change to get there (objects and namespaces).

A cluster holds an entry for each host it imports under the plan's selection (every host by
default; selection.py). A cluster that does not run a Service reaches it through the
gateways of the exporting clusters it imports it from (every port mapped to the gateway's 15443);
a cluster that runs it points the host at its local Service, so that its gateway can route the
`.global` SNI (Admiral's approach). Beside each ServiceEntry a DestinationRule of the same name sets
Istio mutual TLS, outlier detection and locality failover. Pure functions: no cluster access, no
Ansible.
"""

from __future__ import annotations

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s import reconcile
from ansible_collections.meshops.multicluster.plugins.module_utils._services.plan import traffic_policy
from ansible_collections.meshops.multicluster.plugins.module_utils._services.selection import ImportView
from ansible_collections.meshops.multicluster.plugins.module_utils._services.shapes import FleetPlan, Layout, PlannedService, TrafficPolicy
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import MANAGED_BY, MANAGED_BY_LABEL, managed_labels
from ansible_collections.meshops.multicluster.plugins.module_utils._services.exports import PlanError
from ansible_collections.meshops.multicluster.plugins.module_utils._services.vips import COMPONENT, COMPONENT_LABEL

SERVICE_LABEL = "multicluster.meshops.io/service"
SERVICE_NAMESPACE_LABEL = "multicluster.meshops.io/service-namespace"
EXPORTED_FROM_ANNOTATION = "multicluster.meshops.io/exported-from"
TLS_MODE_LABEL = "security.istio.io/tlsMode"
# What this step owns: only these objects are ever updated or pruned.
OWNED_SELECTOR = "%s=%s,%s=%s" % (MANAGED_BY_LABEL, MANAGED_BY, COMPONENT_LABEL, COMPONENT)


def _endpoint(address, ports, locality, port=None):
    endpoint = {"address": address,
                "ports": {p["name"]: port or p["number"] for p in ports},
                "labels": {TLS_MODE_LABEL: "istio"}}
    if locality:
        endpoint["locality"] = locality
    return endpoint


def _metadata(service: PlannedService, sources, namespace):
    return {
        "name": service["host"],
        "namespace": namespace,
        "labels": managed_labels({COMPONENT_LABEL: COMPONENT, SERVICE_LABEL: service["name"],
                                  SERVICE_NAMESPACE_LABEL: service["namespace"]}),
        "annotations": {EXPORTED_FROM_ANNOTATION: ",".join(sources)},
    }


def render_entry(service: PlannedService, sources: list[str], endpoints, namespace: str):
    """The ServiceEntry object for one planned service (host, vip, ...) in one cluster, whose
    endpoints come from the exporting clusters `sources`."""
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": _metadata(service, sources, namespace),
        "spec": {
            "hosts": [service["host"]],
            "location": "MESH_INTERNAL",
            "ports": [dict(port) for port in service["ports"]],
            "resolution": "DNS",
            "addresses": [service["vip"]],
            "endpoints": endpoints,
        },
    }


def render_destination_rule(service: PlannedService, sources: list[str], namespace: str, policy: TrafficPolicy):
    """The DestinationRule beside a service's ServiceEntry: mutual TLS, outlier detection, failover."""
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": _metadata(service, sources, namespace),
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


def _check_cluster(fleet_plan: FleetPlan, cluster: str):
    if cluster not in fleet_plan["gateways"]:
        raise PlanError("cluster %s is not in the plan (planned: %s)" % (cluster, ", ".join(sorted(fleet_plan["gateways"]))))


def _target_namespace(service: PlannedService, layout: Layout) -> str:
    return service["namespace"] if layout["namespace_mode"] == "replicate" else layout["namespace"]


def _imported(fleet_plan: FleetPlan, cluster: str):
    """(service, sources) for each planned service `cluster` holds an entry for, sources being the
    exporting clusters its endpoints come from."""
    _check_cluster(fleet_plan, cluster)
    view = ImportView(fleet_plan.get("selection"), cluster)
    for service in fleet_plan["services"]:
        sources = view.sources(service)
        if sources:
            yield service, sources


def render_entries(fleet_plan: FleetPlan, cluster: str):
    """The ServiceEntries that `cluster` must hold according to the fleet plan (plan.plan_fleet)."""
    gateways, layout = fleet_plan["gateways"], fleet_plan["layout"]
    entries = []
    for service, sources in _imported(fleet_plan, cluster):
        local = cluster in sources
        endpoints = [_endpoint("%s.%s.svc.%s" % (service["name"], service["namespace"], layout["cluster_domain"]),
                               service["ports"], gateways[cluster]["locality"])] if local else []
        endpoints += [_endpoint(gateways[other]["address"], service["ports"], gateways[other]["locality"],
                                gateways[other]["port"])
                      for other in sources if other != cluster]
        entries.append(render_entry(service, sources, endpoints, _target_namespace(service, layout)))
    return entries


def render_destination_rules(fleet_plan: FleetPlan, cluster: str):
    """The DestinationRules that `cluster` must hold: one beside each of its ServiceEntries."""
    policy = fleet_plan.get("policy") or traffic_policy()
    return [render_destination_rule(service, sources, _target_namespace(service, fleet_plan["layout"]), policy)
            for service, sources in _imported(fleet_plan, cluster)]


def is_owned(obj):
    """Made by this step: managed by the collection and labelled as the services component."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY_LABEL) == MANAGED_BY and labels.get(COMPONENT_LABEL) == COMPONENT


def spec_differs(desired, live):
    """True when a spec field we set is not exactly ours in `live` (reconcile.compare compares as a
    subset, which misses an endpoint field we stopped setting); fields others add are left alone."""
    live_spec = live.get("spec") or {}
    return any(value != live_spec.get(field) for field, value in desired["spec"].items())


def _clash(host, obj, what):
    return "%s is not managed by %s but has %s, which this step needs for host %s: that host is skipped in " \
        "this cluster (theirs untouched, ours left as it is); remove theirs or stop exporting that service" \
        % (reconcile.key_name(reconcile.object_key(obj)), MANAGED_BY, what, host)


def clashes(desired, live):
    """{host: [messages]} of our hosts that someone else's object clashes with: their ServiceEntry
    with the name, one of the hosts or the VIP of one of ours, their DestinationRule with the name of
    one of ours. Each message names their object and the value."""
    host_of_key = {reconcile.object_key(obj): obj["metadata"]["name"] for obj in desired}
    hosts = {host for obj in desired for host in obj["spec"].get("hosts") or []}
    host_of_vip = {vip: obj["metadata"]["name"] for obj in desired for vip in obj["spec"].get("addresses") or []}
    found = {}
    for obj in live:
        if is_owned(obj):
            continue
        key, spec = reconcile.object_key(obj), obj.get("spec") or {}
        clash = [(host_of_key[key], "its name")] if key in host_of_key else []
        if obj["kind"] == "ServiceEntry":
            clash += [(host, "host %s" % host) for host in spec.get("hosts") or [] if host in hosts]
            clash += [(host_of_vip[vip], "address %s" % vip) for vip in spec.get("addresses") or [] if vip in host_of_vip]
        for host, what in clash:
            found.setdefault(host, []).append(_clash(host, obj, what))
    return {host: sorted(messages) for host, messages in sorted(found.items())}


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


def reconcile_entries(desired, live, prune=True, keep_exported_from=(), keep_hosts=()):
    """What a cluster must do to hold exactly `desired` of our ServiceEntries and DestinationRules.

    live: every ServiceEntry and DestinationRule of the cluster (ours and others', one list per
    kind; a live object without kind is a ServiceEntry). Only this step's own objects are updated
    or pruned. Ours are left as they are, neither updated nor pruned - the Changes' `kept` - when
    they are exported from a cluster in keep_exported_from (one that could not be read), or are of
    a host in keep_hosts (held back by the fleet plan), or of a host that someone else's object
    clashes with (clashes()): such a host is `skipped`, {host: [messages]}, and theirs is untouched.
    """
    for obj in live:
        obj.setdefault("kind", "ServiceEntry")
    keep, hosts = set(keep_exported_from), set(keep_hosts)

    def is_kept(obj):
        return is_owned(obj) and (obj["metadata"]["name"] in hosts or bool(exported_from(obj) & keep))

    # Clashes matter only for what would be written.
    kept_keys = {reconcile.object_key(obj) for obj in live if is_kept(obj)}
    skipped = clashes([obj for obj in desired if reconcile.object_key(obj) not in kept_keys
                       and obj["metadata"]["name"] not in hosts], live)
    hosts |= set(skipped)  # ours of a skipped host are kept as they are too
    kept = [obj for obj in live if is_kept(obj)]
    kept_keys = {reconcile.object_key(obj) for obj in kept}
    desired = [obj for obj in desired if reconcile.object_key(obj) not in kept_keys and obj["metadata"]["name"] not in hosts]
    live = [obj for obj in live if reconcile.object_key(obj) not in kept_keys]
    changes = reconcile.compare(desired, live, prune=prune, prune_match=is_owned)
    changes.kept, changes.skipped = kept, skipped
    live_by_key = {reconcile.object_key(obj): obj for obj in live}
    for obj in list(changes.unchanged):
        current = live_by_key[reconcile.object_key(obj)]
        if spec_differs(obj, current):
            changes.unchanged.remove(obj)
            changes.update.append((obj, current))
    return changes


def namespace_object(name):
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": managed_labels({COMPONENT_LABEL: COMPONENT})}}


def _terminating(namespace):
    return ((namespace or {}).get("status") or {}).get("phase") == "Terminating"


def reconcile_namespaces(desired, live, prune=True):
    """The namespaces `desired` objects need that are missing, and ours none needs any more.

    Returns a reconcile.Changes (create, delete). A namespace made by someone else is used as it is,
    never labelled or deleted. A namespace already being deleted is not deleted again; one that is
    needed again while it is being deleted is `waiting`: it must be gone before it is created anew.
    """
    needed = {obj["metadata"]["namespace"] for obj in desired}
    live_by_name = {ns["metadata"]["name"]: dict(ns, kind="Namespace") for ns in live}
    changes = reconcile.Changes()
    changes.waiting = sorted(name for name in needed if _terminating(live_by_name.get(name)))
    changes.create = [namespace_object(name) for name in sorted((needed - set(live_by_name)) | set(changes.waiting))]
    changes.delete = [ns for name, ns in sorted(live_by_name.items())
                      if prune and is_owned(ns) and name not in needed and not _terminating(ns)]
    return changes
